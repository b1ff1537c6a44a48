package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

const defaultTriggerBound = 10 * time.Second

func newRunCmd(a *app) *cobra.Command {
	var sel canarySelector
	var bound time.Duration
	var comment string
	cmd := &cobra.Command{
		Use:   "run --id ID | --name NAME | --slug SLUG [flags] -- COMMAND [ARGS...]",
		Short: "Run a job and trigger its canary if it succeeds",
		Long: `Run COMMAND with cmcli's stdin, stdout and stderr, and exit with its exit status
(128+n if signal n killed it; 127 if it cannot be found). When it exits 0, trigger
the canary with the comment "exit 0 in <seconds>s". The trigger is retried while the
server is unreachable or has no leader, for at most --timeout-trigger, so the job's
exit is never delayed by more; a trigger that fails is reported on stderr and does
not change the exit status. One crontab line then both runs and watches a job.
cmcli writes nothing on stdout.`,
		Example: `  0 3 * * * cmcli run --id aseprogj -- /usr/local/bin/backup.sh --full
  cmcli run --slug nightly-dump --timeout-trigger 30s -- pg_dump -f /backup/db.sql mydb`,
		GroupID: groupOther,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("run needs a COMMAND to run (after --)")
			}
			return nil
		},
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if bound <= 0 {
				return usageErrorf("--timeout-trigger must be positive")
			}
			// A mistake on the command line stops here; an unreadable configuration
			// file must not keep the job from running, so it is reported afterwards.
			client, connErr := a.connection(cmd)
			var usage usageError
			if errors.As(connErr, &usage) {
				return connErr
			}
			status, elapsed, err := runJob(args, a.streams)
			if err != nil {
				fmt.Fprintf(a.streams.stderr, "cmcli: run: %v\n", err)
				return exitStatus(status)
			}
			if status != 0 {
				return exitStatus(status)
			}
			err = connErr
			if err == nil {
				params := selectorParams(sel, optionalString{Set: true, Value: jobComment(comment, status, elapsed)})
				err = retryWithin(context.Background(), bound, func(ctx context.Context) error {
					_, err := client.Do(ctx, apiRequest{path: canaryAPI + "trigger", params: params, noAuth: true})
					return err
				})
			}
			if err != nil {
				fmt.Fprintf(a.streams.stderr, "cmcli: run: the job succeeded but triggering the canary (%s) failed: %v\n",
					describeSelector(sel), err)
			}
			return exitStatus(status)
		}),
	}
	addSelectorFlags(cmd, &sel)
	cmd.Flags().DurationVar(&bound, "timeout-trigger", defaultTriggerBound, "give up triggering after this long")
	cmd.Flags().StringVar(&comment, "comment", "", "text put before the exit status in the trigger comment")
	// Everything from COMMAND on belongs to the job, even without "--".
	cmd.Flags().SetInterspersed(false)
	return cmd
}
