package main

import (
	"strings"
	"testing"
)

// These run the real cmcli binary without a server.

func TestBinaryHelpHasExamples(t *testing.T) {
	cli := newCLIRunner(t)
	commands := [][]string{
		{"create"}, {"get"}, {"list"}, {"update"}, {"delete"}, {"trigger"}, {"pause"}, {"unpause"},
		{"configure"}, {"run"}, {"import"}, {"cluster"}, {"cluster", "status"}, {"cluster", "remove-peer"},
		{"cluster", "transfer-leader"}, {"snapshot"}, {"snapshot", "save"}, {"snapshot", "restore"},
	}
	for _, c := range commands {
		res := cli.run(append(c, "--help")...)
		_, examples, _ := strings.Cut(res.stdout, "Examples:\n")
		if res.code != 0 || !strings.Contains(examples, "cmcli "+c[0]) {
			t.Errorf("cmcli %s --help: no example\n%s", strings.Join(c, " "), res)
		}
	}
	root := cli.run("--help")
	for _, want := range []string{"~/.coal-mine.ini", "Exit status", "create", "cluster", "snapshot", "import", "run", "completion"} {
		if !strings.Contains(root.stdout, want) {
			t.Errorf("cmcli --help lacks %q", want)
		}
	}
}

func TestBinaryCompletion(t *testing.T) {
	cli := newCLIRunner(t)
	tests := []struct{ shell, want string }{
		{"bash", "__start_cmcli"},
		{"zsh", "#compdef cmcli"},
	}
	for _, tt := range tests {
		res := cli.run("completion", tt.shell)
		if res.code != 0 || !strings.Contains(res.stdout, tt.want) {
			t.Errorf("completion %s: %s", tt.shell, res.stderr)
		}
	}
}

func TestBinaryUsageErrorsExit2(t *testing.T) {
	cli := newCLIRunner(t)
	tests := [][]string{
		{},
		{"froodle"},
		{"create", "--name", "x"},
		{"update", "--id", "abcdefgh", "--slug", "x"},
		{"update", "--periodicity", "60"},
		{"trigger"},
		{"list", "--paused", "--no-paused"},
		{"list", "--json", "--human"},
		{"run", "--id", "abcdefgh"},
		{"import"},
		{"cluster", "remove-peer"},
	}
	for _, args := range tests {
		res := cli.run(args...)
		if res.code != 2 || !strings.Contains(res.stderr, "cmcli: ") || res.stdout != "" {
			t.Errorf("cmcli %q: %s; want exit 2, a message on stderr", args, res)
		}
	}
}
