package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
)

// ioStreams are the process's standard streams, replaceable in tests.
type ioStreams struct {
	stdin            io.Reader
	stdout, stderr   io.Writer
	stdoutIsTerminal bool
}

// app is what every command shares: streams, clock, environment and global flags.
type app struct {
	streams ioStreams
	getenv  func(string) string
	now     func() time.Time
	flags   globalFlags
}

// globalFlags are accepted by every command, before or after its name.
type globalFlags struct {
	configFile string
	host       string
	port       int
	authKey    string
	noAuthKey  bool
	caFile     string
	json       bool
	human      bool
	timeout    time.Duration
}

// execute runs cmcli with args and the environment getenv reads, and returns its
// exit status.
func execute(args []string, streams ioStreams, getenv func(string) string) int {
	a := &app{streams: streams, getenv: getenv, now: time.Now}
	root := newRootCmd(a)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	path := "cmcli"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	return reportError(err, streams, path)
}

const rootLong = `cmcli is the command line interface of coal-mine, a replicated Coal Mine server
that watches periodic jobs ("canaries") and e-mails when one is late or fails.

Connection: --host (a host name or an http:// or https:// URL base), --port and
--auth-key, or the values stored by 'cmcli configure' in ~/.coal-mine.ini
(section [coal-mine]; $COAL_MINE_CONFIG or --config name another file). Flags win
over the file. Without a port, the URL has none: port 80 (443 for https), as the
original cmcli did; coal-mine itself listens on 8080 by default.

Output: at a terminal, a readable view (LATE and FAILED canaries highlighted,
deadlines relative to now); otherwise (a pipe, a file) the server's JSON, so scripts
can parse it. --json and --human choose explicitly.

Exit status: 0 success, 1 the server refused (its HTTP status and message go to
stderr) or the request failed, 2 the command line was wrong.`

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "cmcli",
		Short: "Command line interface for coal-mine (Coal Mine) servers",
		Long:  rootLong,
		Example: `  cmcli configure --host cm.example.com --port 8080 --auth-key s3cret
  cmcli create --name 'Nightly backup' --periodicity $((60*60*25)) --email ops@example.com
  cmcli create --name 'Tokyo report' --cron '0 2 * * *' --tz Asia/Tokyo --grace 10m
  cmcli list --late
  0 3 * * * cmcli run --id aseprogj -- /usr/local/bin/backup.sh
  cmcli runs --id aseprogj`,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(*cobra.Command, []string) error {
			return usageError{errNoCommand}
		},
	}
	root.SetIn(a.streams.stdin)
	root.SetOut(a.streams.stdout)
	root.SetErr(a.streams.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	pf := root.PersistentFlags()
	pf.StringVar(&a.flags.configFile, "config", "", "configuration file (default $COAL_MINE_CONFIG or ~/.coal-mine.ini)")
	pf.StringVar(&a.flags.host, "host", "", "server host name or URL base, e.g. https://cm.example.com (default from the configuration, else localhost)")
	pf.IntVar(&a.flags.port, "port", 0, "server port (default from the configuration, else the scheme's: 80 or 443)")
	pf.StringVar(&a.flags.authKey, "auth-key", "", "authentication key (default from the configuration)")
	pf.BoolVar(&a.flags.noAuthKey, "no-auth-key", false, "send no authentication key, even if one is configured")
	pf.StringVar(&a.flags.caFile, "ca-file", "", "CA (PEM) to check an https:// server's certificate against (default from the configuration, else the system's)")
	pf.BoolVar(&a.flags.json, "json", false, "print the server's JSON response (the default when stdout is not a terminal)")
	pf.BoolVar(&a.flags.human, "human", false, "print the readable view even when stdout is not a terminal")
	pf.DurationVar(&a.flags.timeout, "timeout", 30*time.Second, "give up on a request after this long")
	root.MarkFlagsMutuallyExclusive("auth-key", "no-auth-key")
	root.MarkFlagsMutuallyExclusive("json", "human")

	root.AddGroup(
		&cobra.Group{ID: groupCanary, Title: "Canary commands:"},
		&cobra.Group{ID: groupCluster, Title: "Cluster and backup commands:"},
		&cobra.Group{ID: groupOther, Title: "Other commands:"},
	)
	root.SetHelpCommandGroupID(groupOther)
	root.SetCompletionCommandGroupID(groupOther)
	root.AddCommand(newCanaryCommands(a)...)
	root.AddCommand(
		newChannelCmd(a),
		newClusterCmd(a),
		newSnapshotCmd(a),
		newImportCmd(a),
		newConfigureCmd(a),
		newRunCmd(a),
		newBenchCmd(a),
	)
	return root
}

const (
	groupCanary  = "canary"
	groupCluster = "cluster"
	groupOther   = "other"
)

// runE adapts a command body: errors it returns exit 1, unless they are usage
// errors or an explicit exit status.
func runE(body func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := body(cmd, args)
		var usage usageError
		var status exitStatus
		if err == nil || errors.As(err, &usage) || errors.As(err, &status) {
			return err
		}
		return failure{err}
	}
}

// configPath is the configuration file this invocation uses.
func (a *app) configPath() (string, error) {
	return configPath(a.flags.configFile, a.getenv)
}

// connection resolves the server and auth key: flags, then the configuration file,
// then defaults.
func (a *app) connection(cmd *cobra.Command) (*Client, error) {
	path, err := a.configPath()
	if err != nil {
		return nil, err
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		return nil, err
	}
	flags := cmd.Flags()
	if flags.Changed("host") {
		cfg.Host = a.flags.host
	}
	if flags.Changed("port") {
		if a.flags.port < 0 || a.flags.port > 65535 {
			return nil, usageErrorf("--port %d is not a port number", a.flags.port)
		}
		cfg.Port = a.flags.port
	}
	switch {
	case a.flags.noAuthKey:
		cfg.AuthKey = ""
	case flags.Changed("auth-key"):
		cfg.AuthKey = a.flags.authKey
	}
	base, err := serverURL(cfg.Host, cfg.Port)
	if err != nil {
		if flags.Changed("host") {
			return nil, usageError{err}
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if flags.Changed("ca-file") {
		cfg.CAFile = a.flags.caFile
	}
	client := newClient(base, cfg.AuthKey)
	if cfg.CAFile != "" {
		if err := client.trustCA(cfg.CAFile); err != nil {
			return nil, err
		}
	}
	return client, nil
}

// requestContext bounds one request by --timeout.
func (a *app) requestContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), a.flags.timeout)
}

// printer prints results for this invocation.
func (a *app) printer(client *Client, noHistory bool) *printer {
	mode := chooseOutput(a.flags.json, a.flags.human, a.streams.stdoutIsTerminal)
	p := &printer{
		out:       a.streams.stdout,
		mode:      mode,
		color:     a.streams.stdoutIsTerminal && a.getenv("NO_COLOR") == "" && a.getenv("TERM") != "dumb",
		noHistory: noHistory,
		now:       a.now,
	}
	if client != nil {
		p.triggerURL = func(id string) string { return client.URL("/"+id, nil) }
	}
	return p
}

// addNoHistoryFlag adds --no-history and its original alias --terse.
func addNoHistoryFlag(cmd *cobra.Command, target *bool) {
	cmd.Flags().BoolVar(target, "no-history", false, "omit the canary's history from the output")
	cmd.Flags().BoolVar(target, "terse", false, "same as --no-history")
}
