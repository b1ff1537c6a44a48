package main

import (
	"github.com/spf13/cobra"
)

func newConfigureCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "configure [--host HOST|URL] [--port PORT] [--auth-key KEY | --no-auth-key] [--ca-file CA.pem]",
		Short: "Store the server's address and auth key in ~/.coal-mine.ini",
		Long: `Store connection settings for later commands in ~/.coal-mine.ini (or the file named
by --config or $COAL_MINE_CONFIG), section [coal-mine], keys host, port, auth-key and
ca-file (the CA an https:// server's certificate is checked against; --ca-file ''
removes it).
The file is the original cmcli's, in the same format; it is made readable by its
owner only, because the auth key is stored in clear. Settings not given are kept;
--port 0 removes the stored port; --no-auth-key removes the stored key.`,
		Example: `  cmcli configure --host cm.example.com --port 8080 --auth-key s3cret
  cmcli configure --host https://cm.example.com --port 8443 --ca-file /etc/coal-mine/ca.pem
  cmcli configure --no-auth-key`,
		GroupID: groupOther,
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			flags := cmd.Flags()
			var change ConfigChange
			if flags.Changed("host") {
				if _, err := serverURL(a.flags.host, 0); err != nil {
					return usageError{err}
				}
				change.Host = &a.flags.host
			}
			if flags.Changed("port") {
				if a.flags.port < 0 || a.flags.port > 65535 {
					return usageErrorf("--port %d is not a port number", a.flags.port)
				}
				change.Port = &a.flags.port
			}
			if flags.Changed("auth-key") {
				change.AuthKey = &a.flags.authKey
			}
			change.NoAuthKey = a.flags.noAuthKey
			if flags.Changed("ca-file") {
				change.CAFile = &a.flags.caFile
			}
			path, err := a.configPath()
			if err != nil {
				return err
			}
			cfg, err := SaveConfig(path, change)
			if err != nil {
				return err
			}
			p := a.printer(nil, false)
			if p.mode == outputHuman {
				keyState := "no auth key"
				if cfg.AuthKey != "" {
					keyState = "auth key stored"
				}
				base, err := serverURL(cfg.Host, cfg.Port)
				server := cfg.Host
				if err == nil {
					server = base.String()
				}
				p.printf("Saved %s: server %s, %s.\n", path, server, keyState)
			}
			return nil
		}),
	}
}
