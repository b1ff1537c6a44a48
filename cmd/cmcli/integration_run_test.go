package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

func TestIntegrationRunWrapper(t *testing.T) {
	srv := startSingleNode(t, "k")
	cli := newCLIRunner(t)
	created := canaryOf(t, cli.ok(serverArgs(srv, "--auth-key", "k", "create", "--name", "Wrapped Job", "--periodicity", "3600")...))
	id := created["id"].(string)
	history := func() []string {
		return historyComments(t, canaryOf(t, cli.ok(serverArgs(srv, "--auth-key", "k", "get", "--id", id)...)))
	}

	// Success: output and status pass through, the canary is triggered with the
	// exit status and run time (the trigger needs no key).
	res := cli.runWithInput("from stdin\n", serverArgs(srv, "run", "--id", id, "--", "sh", "-c", "cat; echo to-stderr >&2")...)
	if res.code != 0 || res.stdout != "from stdin\n" || res.stderr != "to-stderr\n" {
		t.Fatalf("successful job: %s", res)
	}
	got := history()
	if ok, _ := regexp.MatchString(`exit 0 in [0-9]+\.[0-9]s`, got[0]); !ok {
		t.Fatalf("history after a successful job %q", got)
	}
	canary := func() map[string]any {
		return canaryOf(t, cli.ok(serverArgs(srv, "--auth-key", "k", "get", "--id", id)...))
	}
	if c := canary(); c["state"] != "up" || c["last_exit_status"] != 0.0 {
		t.Errorf("after a successful job: state %v, last_exit_status %v", c["state"], c["last_exit_status"])
	}

	// Failures pass their status through, and the server hears of them: the canary
	// fails, with that exit status.
	for _, tt := range []struct {
		name string
		argv []string
		want int
	}{
		{"exit status", []string{"sh", "-c", "echo partial; exit 3"}, 3},
		{"killed by a signal", []string{"sh", "-c", "kill -TERM $$"}, 143},
		{"not found", []string{"cmcli-no-such-command"}, 127},
	} {
		res := cli.run(serverArgs(srv, append([]string{"run", "--slug", "wrapped-job", "--"}, tt.argv...)...)...)
		if res.code != tt.want {
			t.Errorf("%s: %s; want exit %d", tt.name, res, tt.want)
		}
		if c := canary(); c["state"] != "failed" || c["last_exit_status"] != float64(tt.want) {
			t.Errorf("%s: state %v, last_exit_status %v; want failed and %d", tt.name, c["state"], c["last_exit_status"], tt.want)
		}
	}

	// Arguments after the command are the job's, even without "--"; a success
	// recovers the failed canary.
	res = cli.run(serverArgs(srv, "run", "--name", "wrapped job", "echo", "--id", "x")...)
	if res.code != 0 || res.stdout != "--id x\n" {
		t.Fatalf("job flags: %s", res)
	}
	if c := canary(); c["state"] != "up" {
		t.Errorf("after a success following failures: state %v, want up", c["state"])
	}

	// A report that fails is said on stderr but does not change the job's status.
	res = cli.run(serverArgs(srv, "run", "--id", "nosuchid", "--", "true")...)
	if res.code != 0 || !strings.Contains(res.stderr, "404 Not Found") {
		t.Fatalf("trigger of an unknown canary: %s", res)
	}
	res = cli.run("--host", "127.0.0.1", "--port", fmt.Sprint(testkit.FreePort(t)), "run", "--id", id, "--timeout-trigger", "1s", "--", "sh", "-c", "exit 0")
	if res.code != 0 || !strings.Contains(res.stderr, "connection refused") {
		t.Fatalf("trigger with the server down: %s", res)
	}
	res = cli.run("--host", "127.0.0.1", "--port", fmt.Sprint(testkit.FreePort(t)), "run", "--id", id, "--timeout-trigger", "1s", "--", "sh", "-c", "exit 5")
	if res.code != 5 || !strings.Contains(res.stderr, "the job failed (exit 5) and reporting that to the canary") {
		t.Fatalf("failed job with the server down: %s", res)
	}
}
