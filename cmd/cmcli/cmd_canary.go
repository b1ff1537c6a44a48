package main

import (
	"encoding/json"
	"fmt"
	"net/url"

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
			`  cmcli pause --slug nightly-backup --comment 'maintenance until Monday'`),
		newPauseCmd(a, "unpause", "Unpause a canary: watch it again from now",
			`  cmcli unpause --slug nightly-backup`),
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
	client, err := a.connection(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := a.requestContext(cmd)
	defer cancel()
	body, err := client.Do(ctx, apiRequest{path: canaryAPI + op, params: params, noAuth: noAuth})
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
		Use:   "create --name NAME --periodicity SECONDS|SCHEDULE",
		Short: "Create a canary",
		Long: `Create a canary. --periodicity is the most seconds allowed between triggers, or a
schedule of crontab-like directives separated by semicolons, the last field of each
being the periodicity during the times it matches.`,
		Example: `  cmcli create --name 'Nightly backup' --periodicity $((60*60*25)) --email ops@example.com --email dba@example.com
  cmcli create --name 'Queue worker' --periodicity '* * * * sat,sun 300; * * * * mon-fri 90' --paused`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			o.Description.Set = cmd.Flags().Changed("description")
			params, err := createParams(o)
			if err != nil {
				return err
			}
			return a.call(cmd, "create", params, false, noHistory, showCanary)
		}),
	}
	cmd.Flags().StringVar(&o.Name, "name", "", "the canary's name (required)")
	cmd.Flags().StringVar(&o.Periodicity, "periodicity", "", "seconds between triggers, or a schedule (required)")
	cmd.Flags().StringVar(&o.Description.Value, "description", "", "a description")
	cmd.Flags().StringArrayVar(&o.Emails, "email", nil, "an address to notify; repeat for more")
	cmd.Flags().BoolVar(&o.Paused, "paused", false, "create the canary paused")
	addNoHistoryFlag(cmd, &noHistory)
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("periodicity")
	return cmd
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
		Short: "Change a canary's name, periodicity, description or e-mails",
		Long: `Change a canary. Identify it with --id or --slug; then --name is its new name.
With only --name (no --id or --slug), --name identifies the canary instead, as with
the original cmcli, and the name is left as it is.`,
		Example: `  cmcli update --id aseprogj --name 'Nightly backup (new)'
  cmcli update --name 'Nightly backup' --periodicity 7200
  cmcli update --slug nightly-backup --email -          # remove every address`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			flags := cmd.Flags()
			o.Name.Set = flags.Changed("name")
			o.Periodicity.Set = flags.Changed("periodicity")
			o.Description.Set = flags.Changed("description")
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
	flags.StringVar(&o.Periodicity.Value, "periodicity", "", "new seconds between triggers, or a schedule")
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
unpaused. Cron jobs can also trigger with a plain HTTP request to /<id>, or run
under 'cmcli run'.`,
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

// newPauseCmd builds pause and unpause, which differ only in their endpoint.
func newPauseCmd(a *app, op, short, example string) *cobra.Command {
	var sel canarySelector
	var comment optionalString
	var noHistory bool
	cmd := &cobra.Command{
		Use:     op + " --id ID | --name NAME | --slug SLUG [--comment TEXT]",
		Short:   short,
		Example: example,
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			comment.Set = cmd.Flags().Changed("comment")
			return a.call(cmd, op, selectorParams(sel, comment), false, noHistory, showCanary)
		}),
	}
	addSelectorFlags(cmd, &sel)
	cmd.Flags().StringVar(&comment.Value, "comment", "", "text stored in the canary's history")
	addNoHistoryFlag(cmd, &noHistory)
	return cmd
}
