package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The original cmcli's commands, with its flags and its query parameters.

func newCanaryCommands(a *app) []*cobra.Command {
	cmds := []*cobra.Command{
		newCreateCmd(a),
		newGetCmd(a),
		newListCmd(a),
		newUpdateCmd(a),
		newDeleteCmd(a),
		newTriggerCmd(a),
		newPauseCmd(a, "pause", "Pause a canary: stop watching it and alerting",
			`Pause a canary: stop watching it and alerting. With --until or --for the
server unpauses it by itself then; without, it stays paused until 'cmcli unpause'
or a trigger.`,
			`  cmcli pause --slug nightly-backup --comment 'maintenance until Monday'
  cmcli pause --slug nightly-backup --until 2026-12-28T08:00:00+01:00
  cmcli pause --id aseprogj --for 2h --comment 'migrating the database'`),
		newPauseCmd(a, "unpause", "Unpause a canary: watch it again from now", "",
			`  cmcli unpause --slug nightly-backup`),
		newRunsCmd(a),
	}
	for _, c := range cmds {
		c.GroupID = groupCanary
	}
	return cmds
}

// addSelectorFlags adds --id, --name and --slug, exactly one of which is required.
func addSelectorFlags(cmd *cobra.Command, sel *canarySelector) {
	cmd.Flags().StringVar(&sel.ID, "id", "", "the canary's 8-letter identifier")
	cmd.Flags().StringVar(&sel.Name, "name", "", "the canary's name (case and punctuation do not matter)")
	cmd.Flags().StringVar(&sel.Slug, "slug", "", "the canary's slug")
	cmd.MarkFlagsMutuallyExclusive("id", "name", "slug")
	cmd.MarkFlagsOneRequired("id", "name", "slug")
}

// call sends one canary API call and prints its answer; human shows it at a terminal.
func (a *app) call(cmd *cobra.Command, op string, params url.Values, noAuth, noHistory bool,
	human func(p *printer, body []byte) error) error {
	return a.send(cmd, apiRequest{path: canaryAPI + op, params: params, noAuth: noAuth}, noHistory, human)
}

// send sends one API request and prints its answer: the server's JSON, or at a
// terminal the view human makes of it.
func (a *app) send(cmd *cobra.Command, req apiRequest, noHistory bool, human func(p *printer, body []byte) error) error {
	client, err := a.connection(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := a.requestContext(cmd)
	defer cancel()
	body, err := client.Do(ctx, req)
	if err != nil {
		return err
	}
	p := a.printer(client, noHistory)
	if p.mode == outputJSON {
		return p.printJSON(body)
	}
	return human(p, body)
}

func showCanary(p *printer, body []byte) error { return p.printCanary(body) }

func showDone(message string) func(*printer, []byte) error {
	return func(p *printer, _ []byte) error {
		p.printf("%s\n", message)
		return nil
	}
}

func newCreateCmd(a *app) *cobra.Command {
	var o createOptions
	var noHistory bool
	cmd := &cobra.Command{
		Use:   "create --name NAME (--periodicity SECONDS|SCHEDULE | --cron CRON) [flags]",
		Short: "Create a canary",
		Long: `Create a canary. Say when its job is expected with exactly one of:

  --periodicity  the most seconds allowed between triggers, or a schedule of
                 crontab-like directives separated by semicolons, the last field of
                 each being the periodicity during the times it matches;
  --cron         a 5-field cron expression (or @daily, @hourly...) saying when the
                 job runs, read in --tz (default UTC).

--grace is how long after the expected time the canary still waits before it is
late; --max-runtime is how long a run may last after its start signal ('cmcli run'
sends one). Both take seconds (600) or a duration (10m, 1h30m).`,
		Example: `  cmcli create --name 'Nightly backup' --periodicity $((60*60*25)) --email ops@example.com --email dba@example.com
  cmcli create --name 'Queue worker' --periodicity '* * * * sat,sun 300; * * * * mon-fri 90' --paused
  cmcli create --name 'Tokyo report' --cron '0 2 * * *' --tz Asia/Tokyo --grace 10m --max-runtime 1h`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			flags := cmd.Flags()
			o.Description.Set = flags.Changed("description")
			o.Periodicity.Set = flags.Changed("periodicity")
			o.Settings = settingsChanged(flags, o.Settings)
			params, err := createParams(o)
			if err != nil {
				return err
			}
			return a.call(cmd, "create", params, false, noHistory, showCanary)
		}),
	}
	cmd.Flags().StringVar(&o.Name, "name", "", "the canary's name (required)")
	cmd.Flags().StringVar(&o.Periodicity.Value, "periodicity", "", "seconds between triggers, or a schedule (this or --cron)")
	addSettingsFlags(cmd, &o.Settings)
	cmd.Flags().StringVar(&o.Description.Value, "description", "", "a description")
	cmd.Flags().StringArrayVar(&o.Emails, "email", nil, "an address to notify; repeat for more")
	cmd.Flags().BoolVar(&o.Paused, "paused", false, "create the canary paused")
	addNoHistoryFlag(cmd, &noHistory)
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

// addSettingsFlags adds the job settings create and update share.
func addSettingsFlags(cmd *cobra.Command, s *jobSettings) {
	flags := cmd.Flags()
	flags.StringVar(&s.Cron.Value, "cron", "", "when the job runs: a 5-field cron expression or @daily, @hourly... (instead of --periodicity)")
	flags.StringVar(&s.TZ.Value, "tz", "", "the IANA time zone --cron and schedule directives are read in, e.g. Europe/Paris (default UTC; '' goes back to it)")
	flags.StringVar(&s.Grace.Value, "grace", "", "how long past the expected time before the canary is late: seconds or a duration (10m); 0 for none")
	flags.StringVar(&s.MaxRuntime.Value, "max-runtime", "", "how long a started run may last: seconds or a duration (2h); 0 for no limit")
	flags.StringVar(&s.Renotify.Value, "renotify", "", "while late, send the alert again this often: seconds or a duration (1h); 0 for never")
	flags.StringArrayVar(&s.Channels, "channel", nil, "a notification channel for the canary's events; repeat for more, '-' clears")
}

// settingsChanged marks the settings given on the command line, so only they are sent.
func settingsChanged(flags *pflag.FlagSet, s jobSettings) jobSettings {
	s.Cron.Set = flags.Changed("cron")
	s.TZ.Set = flags.Changed("tz")
	s.Grace.Set = flags.Changed("grace")
	s.MaxRuntime.Set = flags.Changed("max-runtime")
	s.Renotify.Set = flags.Changed("renotify")
	s.ChannelsSet = flags.Changed("channel")
	return s
}

func newGetCmd(a *app) *cobra.Command {
	var sel canarySelector
	var noHistory bool
	cmd := &cobra.Command{
		Use:     "get --id ID | --name NAME | --slug SLUG",
		Short:   "Show a canary",
		Example: "  cmcli get --id aseprogj\n  cmcli get --name 'Nightly backup' --no-history --json",
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			return a.call(cmd, "get", selectorParams(sel, optionalString{}), false, noHistory, showCanary)
		}),
	}
	addSelectorFlags(cmd, &sel)
	addNoHistoryFlag(cmd, &noHistory)
	return cmd
}

func newListCmd(a *app) *cobra.Command {
	var o listOptions
	var noHistory bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List canaries",
		Long: `List canaries, all of them or those matching the filters. At a terminal the list is
a table (the full canaries are fetched for it); --json prints the server's answer,
which has only names and ids unless --verbose.`,
		Example: "  cmcli list --late\n  cmcli list --verbose --no-paused --search 'backup|dump' --json",
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			flags := cmd.Flags()
			o.Paused = tristateFlag(flags, "paused")
			o.Late = tristateFlag(flags, "late")
			o.Search.Set = flags.Changed("search")
			mode := chooseOutput(a.flags.json, a.flags.human, a.streams.stdoutIsTerminal)
			if mode == outputHuman {
				o.Verbose = true // the table shows states and deadlines
			}
			return a.call(cmd, "list", listParams(o), false, noHistory, (*printer).printList)
		}),
	}
	flags := cmd.Flags()
	flags.BoolVar(&o.Verbose, "verbose", false, "return every field of each canary, not just name and id")
	flags.Bool("paused", false, "only paused canaries")
	flags.Bool("no-paused", false, "only unpaused canaries")
	flags.Bool("late", false, "only late canaries")
	flags.Bool("no-late", false, "only canaries that are not late")
	flags.StringVar(&o.Search.Value, "search", "", "regular expression matched against name, slug, id and e-mail addresses")
	addNoHistoryFlag(cmd, &noHistory)
	cmd.MarkFlagsMutuallyExclusive("paused", "no-paused")
	cmd.MarkFlagsMutuallyExclusive("late", "no-late")
	return cmd
}

func newUpdateCmd(a *app) *cobra.Command {
	var o updateOptions
	var noHistory bool
	cmd := &cobra.Command{
		Use:   "update --id ID | --slug SLUG | --name NAME [changes]",
		Short: "Change a canary's name, schedule, grace, description or e-mails",
		Long: `Change a canary. Identify it with --id or --slug; then --name is its new name.
With only --name (no --id or --slug), --name identifies the canary instead, as with
the original cmcli, and the name is left as it is.

--cron replaces a periodicity and --periodicity replaces a cron, so only one of them
can be given. --grace 0 and --max-runtime 0 remove them; --tz '' goes back to UTC.`,
		Example: `  cmcli update --id aseprogj --name 'Nightly backup (new)'
  cmcli update --name 'Nightly backup' --periodicity 7200
  cmcli update --slug nightly-backup --cron '30 1 * * mon-fri' --tz Europe/Paris --grace 15m
  cmcli update --slug nightly-backup --email -          # remove every address`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			flags := cmd.Flags()
			o.Name.Set = flags.Changed("name")
			o.Periodicity.Set = flags.Changed("periodicity")
			o.Description.Set = flags.Changed("description")
			o.Settings = settingsChanged(flags, o.Settings)
			if o.ID == "" && o.Slug == "" && !o.Name.Set {
				return usageErrorf("must specify --name, --id, or --slug")
			}
			foundID := ""
			if o.lookupByName() {
				id, err := a.lookupID(cmd, o.Name.Value)
				if err != nil {
					return err
				}
				foundID = id
			}
			params, err := updateParams(o, foundID)
			if err != nil {
				return err
			}
			return a.call(cmd, "update", params, false, noHistory, showCanary)
		}),
	}
	flags := cmd.Flags()
	flags.StringVar(&o.ID, "id", "", "the canary's identifier")
	flags.StringVar(&o.Slug, "slug", "", "the canary's slug")
	flags.StringVar(&o.Name.Value, "name", "", "the new name (or, alone, the canary to update)")
	flags.StringVar(&o.Periodicity.Value, "periodicity", "", "new seconds between triggers, or a schedule (replaces a cron)")
	addSettingsFlags(cmd, &o.Settings)
	flags.StringVar(&o.Description.Value, "description", "", "new description")
	flags.StringArrayVar(&o.Emails, "email", nil, `new addresses to notify (repeat for more); "-" removes them all`)
	addNoHistoryFlag(cmd, &noHistory)
	cmd.MarkFlagsMutuallyExclusive("id", "slug")
	return cmd
}

// tristateFlag reads a --NAME / --no-NAME pair of flags as a filter.
func tristateFlag(flags *pflag.FlagSet, name string) optionalBool {
	if flags.Changed(name) {
		v, _ := flags.GetBool(name)
		return optionalBool{Set: true, Value: v}
	}
	if flags.Changed("no-" + name) {
		v, _ := flags.GetBool("no-" + name)
		return optionalBool{Set: true, Value: !v}
	}
	return optionalBool{}
}

// lookupID finds a canary's id by its name, for `update --name`.
func (a *app) lookupID(cmd *cobra.Command, name string) (string, error) {
	client, err := a.connection(cmd)
	if err != nil {
		return "", err
	}
	ctx, cancel := a.requestContext(cmd)
	defer cancel()
	body, err := client.Do(ctx, apiRequest{path: canaryAPI + "get", params: url.Values{"name": {name}}})
	if err != nil {
		return "", err
	}
	var resp struct {
		Canary struct {
			ID string `json:"id"`
		} `json:"canary"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.Canary.ID == "" {
		return "", fmt.Errorf("looking up the canary named %q: the server's answer has no id", name)
	}
	return resp.Canary.ID, nil
}

func newDeleteCmd(a *app) *cobra.Command {
	var sel canarySelector
	cmd := &cobra.Command{
		Use:     "delete --id ID | --name NAME | --slug SLUG",
		Short:   "Delete a canary",
		Example: "  cmcli delete --slug my-second-canary",
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			return a.call(cmd, "delete", selectorParams(sel, optionalString{}), false, false, showDone("Deleted."))
		}),
	}
	addSelectorFlags(cmd, &sel)
	return cmd
}

func newTriggerCmd(a *app) *cobra.Command {
	var sel canarySelector
	var comment optionalString
	cmd := &cobra.Command{
		Use:   "trigger --id ID | --name NAME | --slug SLUG [--comment TEXT]",
		Short: "Trigger a canary (no auth key needed)",
		Long: `Trigger a canary: record that its job ran. A late canary recovers, a paused one is
unpaused. Cron jobs can also trigger with a plain HTTP request to /<id> (and signal
a run's start and end with /<id>/start, /<id>/fail or /<id>/<exit status>), or run
under 'cmcli run', which does all of that.`,
		Example: "  cmcli trigger --id aseprogj --comment 'backup ok'",
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			comment.Set = cmd.Flags().Changed("comment")
			return a.call(cmd, "trigger", selectorParams(sel, comment), true, false, (*printer).printTrigger)
		}),
	}
	addSelectorFlags(cmd, &sel)
	cmd.Flags().StringVar(&comment.Value, "comment", "", "text stored in the canary's history")
	return cmd
}

// newPauseCmd builds pause and unpause, which differ only in their endpoint and in
// pause's --until and --for.
func newPauseCmd(a *app, op, short, long, example string) *cobra.Command {
	var o pauseOptions
	var noHistory bool
	timed := op == "pause"
	use := op + " --id ID | --name NAME | --slug SLUG [--comment TEXT]"
	if timed {
		use += " [--until TIME | --for DURATION]"
	}
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Long:    long,
		Example: example,
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			flags := cmd.Flags()
			o.Comment.Set = flags.Changed("comment")
			o.Until.Set = flags.Changed("until")
			o.For.Set = flags.Changed("for")
			params, err := pauseParams(o, time.Local)
			if err != nil {
				return err
			}
			return a.call(cmd, op, params, false, noHistory, showCanary)
		}),
	}
	addSelectorFlags(cmd, &o.Selector)
	cmd.Flags().StringVar(&o.Comment.Value, "comment", "", "text stored in the canary's history")
	if timed {
		cmd.Flags().StringVar(&o.Until.Value, "until", "", "unpause by itself at this ISO 8601 time (2026-12-24T08:00:00Z; without a zone, local time)")
		cmd.Flags().StringVar(&o.For.Value, "for", "", "unpause by itself after this long: seconds or a duration (90m)")
	}
	addNoHistoryFlag(cmd, &noHistory)
	return cmd
}
