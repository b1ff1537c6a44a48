package main

import (
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
	var noStart bool
	cmd := &cobra.Command{
		Use:   "run --id ID | --name NAME | --slug SLUG [flags] -- COMMAND [ARGS...]",
		Short: "Run a job and report its start, exit status and output to its canary",
		Long: `Run COMMAND with cmcli's stdin, stdout and stderr, and exit with its exit status
(128+n if signal n killed it; 127 if it cannot be found).

Before the job starts, cmcli sends the canary a start signal (so the server knows a
run is under way, and can tell one that runs past --max-runtime); it waits at most
2s for it (less if --timeout-trigger is shorter), and a start signal that fails is
reported on stderr while the job runs anyway. --no-start skips it.

When the job exits, cmcli sends its exit status, the comment "exit <status> in
<seconds>s" and the last 10,000 bytes of its output (stdout and stderr together; they
still reach cmcli's stdout and stderr) as the end of the run. Exit 0 triggers the
canary; any other status marks it failed. That report is retried while the server is
unreachable or has no leader, for at most --timeout-trigger, so the job's exit is
never delayed by more; a report that fails is reported on stderr and does not change
the exit status. One crontab line then both runs and watches a job. cmcli writes
nothing on stdout but the job's output.`,
		Example: `  0 3 * * * cmcli run --id aseprogj -- /usr/local/bin/backup.sh --full
  cmcli run --slug nightly-dump --timeout-trigger 30s -- pg_dump -f /backup/db.sql mydb
  cmcli run --slug legacy-job --no-start -- ./job.sh     # an original Coal Mine server`,
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
			stderr := a.streams.stderr
			report := newRunReport(client, sel)
			if connErr == nil && !noStart {
				if err := report.start(min(startSignalBound, bound)); err != nil {
					fmt.Fprintf(stderr, "cmcli: run: sending the start signal to the canary (%s) failed, running the job anyway: %v\n",
						describeSelector(sel), err)
				}
			}

			tail := newOutputTail(maxReportedOutput)
			streams := a.streams
			streams.stdout = teeWriter{out: a.streams.stdout, tail: tail}
			streams.stderr = teeWriter{out: a.streams.stderr, tail: tail}
			status, elapsed, err := runJob(args, streams)
			if err != nil {
				msg := fmt.Sprintf("cmcli: run: %v\n", err)
				fmt.Fprint(stderr, msg)
				tail.Write([]byte(msg)) // the run's output says why it failed
			}

			err = connErr
			if err == nil {
				err = report.end(bound, status, jobComment(comment, status, elapsed), tail.Bytes())
			}
			if err != nil {
				outcome := fmt.Sprintf("the job failed (exit %d) and reporting that to", status)
				if status == 0 {
					outcome = "the job succeeded but triggering" // the wording scripts have seen
				}
				fmt.Fprintf(stderr, "cmcli: run: %s the canary (%s) failed: %v\n", outcome, describeSelector(sel), err)
			}
			return exitStatus(status)
		}),
	}
	addSelectorFlags(cmd, &sel)
	cmd.Flags().DurationVar(&bound, "timeout-trigger", defaultTriggerBound, "give up reporting the job's end after this long")
	cmd.Flags().StringVar(&comment, "comment", "", "text put before the exit status in the comment")
	cmd.Flags().BoolVar(&noStart, "no-start", false, "send no start signal (for a server older than signals)")
	// Everything from COMMAND on belongs to the job, even without "--".
	cmd.Flags().SetInterspersed(false)
	return cmd
}
