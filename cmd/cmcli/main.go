// Command cmcli is the command line interface of coal-mine: the commands of the
// original Coal Mine cmcli (so existing scripts keep working) plus cluster
// operations, backups, migration from an existing Coal Mine and a cron job wrapper.
//
// Decisions a user or script can rely on:
//
//   - Configuration is the original's ~/.coal-mine.ini (section [coal-mine], keys
//     host, port, auth-key), mode 0600; $COAL_MINE_CONFIG or --config name another
//     file. Command-line flags win over the file. A stored port is used (the
//     original's last release ignored it, a bug).
//   - Without a port the URL has none, so the scheme's default applies (80, or 443
//     for https://), as in the original; coal-mine itself listens on 8080.
//   - Parameters are spelled as the original sent them (periodicity=3600.0,
//     paused=True), so cmcli also drives an original Coal Mine server.
//   - Output: a readable view when stdout is a terminal, the server's JSON
//     (indented, otherwise unchanged) when it is not; --json and --human choose.
//   - Exit status: 0 success; 1 the server refused (its "<status> <reason>" line
//     and message go to stderr) or the request failed; 2 a usage error; `run`
//     exits with its job's status.
//   - `run` reports every run: a start signal (at most 2s before the job), then
//     the exit status, comment and the tail of the output, paired by a random rid;
//     a failure is reported too. Reports that fail go to stderr, never change the
//     exit status, and a server that refuses signals still gets a success's trigger.
package main

import (
	"os"

	"github.com/mattn/go-isatty"
)

func main() {
	streams := ioStreams{
		stdin:            os.Stdin,
		stdout:           os.Stdout,
		stderr:           os.Stderr,
		stdoutIsTerminal: isatty.IsTerminal(os.Stdout.Fd()) || isatty.IsCygwinTerminal(os.Stdout.Fd()),
	}
	os.Exit(execute(os.Args[1:], streams, os.Getenv))
}
