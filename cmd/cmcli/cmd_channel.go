package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// channelAPI is where the notification channels' commands live; all need the auth key.
const channelAPI = "/coal-mine/v1/channel/"

// channelOptions are the flags of channel create and update, named like the API's
// parameters.
type channelOptions struct {
	name, kind, url, method, body, routingKey string
	emails, headers                           []string
	isDefault, admin                          bool
}

func addChannelFlags(flags *pflag.FlagSet, o *channelOptions) {
	flags.StringVar(&o.kind, "kind", "", "email, webhook, slack or pagerduty")
	flags.StringArrayVar(&o.emails, "email", nil, "an address (kind email); repeat for more, '-' clears")
	flags.StringVar(&o.url, "url", "", "the endpoint (webhook, slack; pagerduty: optional)")
	flags.StringVar(&o.method, "method", "", "the webhook's HTTP method (default POST)")
	flags.StringArrayVar(&o.headers, "header", nil, "a webhook header, 'Name: value'; repeat for more, '-' clears")
	flags.StringVar(&o.body, "body", "", "the webhook's body, a Go text/template over the event (default: the event as JSON)")
	flags.StringVar(&o.routingKey, "routing-key", "", "the PagerDuty Events API v2 routing key")
	flags.BoolVar(&o.isDefault, "default", false, "send the events of canaries that name no channel here too")
	flags.BoolVar(&o.admin, "admin", false, "send the cluster's own events here (outage, member down, ...)")
}

// channelParams are the API parameters of the flags given (all of them for a create,
// only those set for an update).
func channelParams(flags *pflag.FlagSet, o channelOptions) url.Values {
	v := url.Values{"name": {o.name}}
	set := func(flag, param, value string) {
		if flags.Changed(flag) {
			v.Set(param, value)
		}
	}
	set("kind", "kind", o.kind)
	set("url", "url", o.url)
	set("method", "method", o.method)
	set("body", "body", o.body)
	set("routing-key", "routing_key", o.routingKey)
	set("default", "default", fmt.Sprint(o.isDefault))
	set("admin", "admin", fmt.Sprint(o.admin))
	if flags.Changed("email") {
		v["email"] = o.emails
	}
	if flags.Changed("header") {
		v["header"] = o.headers
	}
	return v
}

func newChannelCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "channel",
		Short: "Manage notification channels (e-mail, webhook, Slack, PagerDuty)",
		Long: `Notification channels are where canaries' events go besides their e-mail
addresses: a canary names its channels with 'cmcli create/update --channel', and a
default channel takes the events of canaries that name none. Every channel command
needs the auth key: channels hold secrets (webhook URLs, routing keys).`,
		GroupID: groupCanary,
	}
	cmd.AddCommand(
		newChannelWriteCmd(a, "create", "Create a channel",
			`  cmcli channel create --name ops-hook --kind webhook --url https://hooks.example.com/coal-mine --default
  cmcli channel create --name team-slack --kind slack --url https://hooks.slack.com/services/T0/B0/XX
  cmcli channel create --name pager --kind pagerduty --routing-key R0UT1NGKEY --admin`),
		newChannelWriteCmd(a, "update", "Change a channel: only the flags given",
			`  cmcli channel update --name ops-hook --header 'Authorization: Bearer s3cret'
  cmcli channel update --name ops-hook --default=false`),
		newChannelNameCmd(a, "get", "Show a channel", `  cmcli channel get --name ops-hook`, showChannel),
		newChannelNameCmd(a, "delete", "Delete a channel no canary names", `  cmcli channel delete --name ops-hook`,
			showDone("Deleted.")),
		newChannelNameCmd(a, "test", "Send a test message through a channel and show what the far end said",
			`  cmcli channel test --name ops-hook`, showChannelTest),
		newChannelListCmd(a),
	)
	return cmd
}

func newChannelWriteCmd(a *app, op, short, example string) *cobra.Command {
	var o channelOptions
	cmd := &cobra.Command{
		Use:     op + " --name NAME [flags]",
		Short:   short,
		Example: example,
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			return a.channelCall(cmd, op, channelParams(cmd.Flags(), o), showChannel)
		}),
	}
	cmd.Flags().StringVar(&o.name, "name", "", "the channel's name: lower-case letters, digits, '-' and '_' (required)")
	addChannelFlags(cmd.Flags(), &o)
	_ = cmd.MarkFlagRequired("name")
	if op == "create" {
		_ = cmd.MarkFlagRequired("kind")
	}
	return cmd
}

func newChannelNameCmd(a *app, op, short, example string, human func(*printer, []byte) error) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:     op + " --name NAME",
		Short:   short,
		Example: example,
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			return a.channelCall(cmd, op, url.Values{"name": {name}}, human)
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "the channel's name (required)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newChannelListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the channels",
		Example: `  cmcli channel list`,
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			return a.channelCall(cmd, "list", url.Values{}, showChannels)
		}),
	}
}

// channelCall sends one channel API call and prints its answer.
func (a *app) channelCall(cmd *cobra.Command, op string, params url.Values, human func(*printer, []byte) error) error {
	return a.send(cmd, apiRequest{path: channelAPI + op, params: params}, false, human)
}

// channelView is a channel as the API shows it.
type channelView struct {
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`
	Emails     []string `json:"emails"`
	URL        string   `json:"url"`
	Method     string   `json:"method"`
	Headers    []string `json:"headers"`
	Body       string   `json:"body"`
	RoutingKey string   `json:"routing_key"`
	Default    bool     `json:"default"`
	Admin      bool     `json:"admin"`
}

// flags are the channel's default and admin marks, for a one-line view.
func (c channelView) flags() string {
	var f []string
	if c.Default {
		f = append(f, "default")
	}
	if c.Admin {
		f = append(f, "admin")
	}
	return strings.Join(f, ",")
}

func showChannel(p *printer, body []byte) error {
	var reply struct {
		Channel channelView `json:"channel"`
	}
	if err := json.Unmarshal(body, &reply); err != nil {
		return fmt.Errorf("reading the server's answer: %w", err)
	}
	c := reply.Channel
	p.printf("%s (%s)\n", c.Name, c.Kind)
	line := func(label, value string) {
		if value != "" {
			p.printf("  %-12s %s\n", label+":", value)
		}
	}
	line("e-mail", strings.Join(c.Emails, ", "))
	line("url", c.URL)
	line("method", c.Method)
	for _, h := range c.Headers {
		line("header", h)
	}
	line("body", c.Body)
	line("routing key", c.RoutingKey)
	line("flags", c.flags())
	return nil
}

func showChannels(p *printer, body []byte) error {
	var reply struct {
		Channels []channelView `json:"channels"`
	}
	if err := json.Unmarshal(body, &reply); err != nil {
		return fmt.Errorf("reading the server's answer: %w", err)
	}
	if len(reply.Channels) == 0 {
		p.printf("No channels.\n")
		return nil
	}
	for _, c := range reply.Channels {
		p.printf("%-24s %-10s %s\n", c.Name, c.Kind, c.flags())
	}
	return nil
}

func showChannelTest(p *printer, body []byte) error {
	var reply struct {
		Response struct {
			Status int    `json:"status"`
			Body   string `json:"body"`
		} `json:"response"`
	}
	if err := json.Unmarshal(body, &reply); err != nil {
		return fmt.Errorf("reading the server's answer: %w", err)
	}
	p.printf("Sent. The far end answered %d", reply.Response.Status)
	if b := strings.TrimSpace(reply.Response.Body); b != "" {
		p.printf(": %s", b)
	}
	p.printf("\n")
	return nil
}
