package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

// Integration tests: the real cmcli binary against a real single-node coal-mine.

func TestIntegrationCanaryCommands(t *testing.T) {
	srv := startSingleNode(t, "")
	cli := newCLIRunner(t)
	run := func(args ...string) map[string]any { return cli.ok(serverArgs(srv, args...)...) }

	created := canaryOf(t, run("create", "--name", "Nightly Backup", "--periodicity", "3600",
		"--email", "a@example.com", "--email", "c@example.com", "--description", "the backup"))
	id, _ := created["id"].(string)
	if len(id) != 8 || created["periodicity"] != 3600.0 || created["slug"] != "nightly-backup" ||
		fmt.Sprint(created["emails"]) != "[a@example.com c@example.com]" || created["description"] != "the backup" {
		t.Fatalf("created %v", created)
	}
	paused := canaryOf(t, run("create", "--name", "Paused Job", "--periodicity", "60", "--paused"))
	if paused["paused"] != true {
		t.Fatalf("created paused %v", paused)
	}
	if _, has := paused["deadline"]; has {
		t.Errorf("a paused canary has a deadline: %v", paused)
	}
	sched := canaryOf(t, run("create", "--name", "Weekdays", "--periodicity", "* * * * mon-fri 600; * * * * sat,sun 3600"))
	if sched["periodicity"] != "* * * * mon-fri 600; * * * * sat,sun 3600" || sched["periodicity_schedule"] == nil {
		t.Fatalf("created with a schedule %v", sched)
	}

	// get by each identifier
	for _, sel := range [][]string{{"--id", id}, {"--name", "nightly BACKUP"}, {"--slug", "nightly-backup"}} {
		got := canaryOf(t, run(append([]string{"get"}, sel...)...))
		if got["id"] != id {
			t.Errorf("get %v = %v", sel, got)
		}
	}
	for _, flag := range []string{"--no-history", "--terse"} {
		got := canaryOf(t, run("get", "--id", id, flag))
		if _, has := got["history"]; has || got["id"] != id {
			t.Errorf("get %s = %v", flag, got)
		}
	}

	// list and its filters
	listIDs := func(args ...string) string {
		out := run(append([]string{"list"}, args...)...)
		canaries, _ := out["canaries"].([]any)
		var names []string
		for _, c := range canaries {
			names = append(names, fmt.Sprint(c.(map[string]any)["name"]))
		}
		return strings.Join(names, ",")
	}
	listTests := []struct {
		args []string
		want []string
	}{
		{nil, []string{"Nightly Backup", "Paused Job", "Weekdays"}},
		{[]string{"--paused"}, []string{"Paused Job"}},
		{[]string{"--no-paused"}, []string{"Nightly Backup", "Weekdays"}},
		{[]string{"--late"}, nil},
		{[]string{"--no-late", "--search", "backup|week"}, []string{"Nightly Backup", "Weekdays"}},
		{[]string{"--search", "c@example"}, []string{"Nightly Backup"}},
	}
	for _, tt := range listTests {
		got := strings.Split(listIDs(tt.args...), ",")
		if strings.Join(got, ",") == "" {
			got = nil
		}
		if !sameSet(got, tt.want) {
			t.Errorf("list %v = %q, want %q", tt.args, got, tt.want)
		}
	}
	verbose := run("list", "--verbose", "--no-paused")
	for _, c := range verbose["canaries"].([]any) {
		if _, has := c.(map[string]any)["periodicity"]; !has {
			t.Errorf("list --verbose lacks periodicity: %v", c)
		}
	}
	for _, c := range run("list", "--verbose", "--no-history")["canaries"].([]any) {
		if _, has := c.(map[string]any)["history"]; has {
			t.Errorf("list --verbose --no-history has history: %v", c)
		}
	}

	// update: rename by id, then the original's rule: --name alone looks the canary up
	renamed := canaryOf(t, run("update", "--id", id, "--name", "Nightly Backup 2"))
	if renamed["name"] != "Nightly Backup 2" || renamed["slug"] != "nightly-backup-2" {
		t.Fatalf("renamed %v", renamed)
	}
	described := canaryOf(t, run("update", "--name", "Nightly Backup 2", "--description", "new text", "--periodicity", "7200"))
	if described["id"] != id || described["name"] != "Nightly Backup 2" || described["description"] != "new text" || described["periodicity"] != 7200.0 {
		t.Fatalf("updated by name %v", described)
	}
	cleared := canaryOf(t, run("update", "--slug", "nightly-backup-2", "--email", "-"))
	if emails, _ := cleared["emails"].([]any); len(emails) != 0 {
		t.Fatalf("emails not cleared: %v", cleared)
	}

	// trigger, pause, unpause
	trig := run("trigger", "--id", id, "--comment", "ok")
	if trig["status"] != "ok" || trig["recovered"] != false || trig["unpaused"] != false {
		t.Fatalf("trigger %v", trig)
	}
	if comments := historyComments(t, canaryOf(t, run("get", "--id", id))); len(comments) == 0 || !strings.Contains(comments[0], "ok") {
		t.Fatalf("history after trigger %q", comments)
	}
	if unpaused := run("trigger", "--slug", "paused-job"); unpaused["unpaused"] != true {
		t.Fatalf("trigger of a paused canary %v", unpaused)
	}
	p := canaryOf(t, run("pause", "--id", id, "--comment", "maintenance"))
	if p["paused"] != true || !strings.Contains(historyComments(t, p)[0], "maintenance") {
		t.Fatalf("pause %v", p)
	}
	if _, has := canaryOf(t, run("pause", "--name", "Paused Job", "--no-history"))["history"]; has {
		t.Error("pause --no-history shows history")
	}
	if u := canaryOf(t, run("unpause", "--id", id, "--comment", "back")); u["paused"] != false || u["deadline"] == nil {
		t.Fatalf("unpause %v", u)
	}

	// delete, then the canary is unknown: 404 and the server's message, exit 1
	if out := run("delete", "--slug", "nightly-backup-2"); out["status"] != "ok" {
		t.Fatalf("delete %v", out)
	}
	for _, args := range [][]string{
		{"get", "--id", id}, {"trigger", "--id", id}, {"pause", "--id", id},
		{"unpause", "--id", id}, {"delete", "--id", id}, {"update", "--id", id, "--description", "x"},
		{"update", "--name", "Nightly Backup 2", "--description", "x"},
	} {
		res := cli.fails(1, "404 Not Found\n", serverArgs(srv, args...)...)
		lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
		if len(lines) != 2 || lines[1] == "" || res.stdout != "" {
			t.Errorf("cmcli %v: want the status and the server's message on stderr, nothing on stdout; got %s", args, res)
		}
	}
}

func TestIntegrationServerRefusals(t *testing.T) {
	srv := startSingleNode(t, "")
	cli := newCLIRunner(t)
	cli.ok(serverArgs(srv, "create", "--name", "Once", "--periodicity", "60")...)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"duplicate name", []string{"create", "--name", "ONCE", "--periodicity", "60"}, "400 Bad Request\n"},
		{"bad schedule", []string{"create", "--name", "Bad", "--periodicity", "* * * * * * * 60"}, "400 Bad Request\n"},
		{"unpausing an unpaused canary", []string{"unpause", "--name", "Once"}, "400 Bad Request\n"},
		{"update that changes nothing", []string{"update", "--name", "Once"}, "400 Bad Request\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := cli.fails(1, tt.want, serverArgs(srv, tt.args...)...)
			if len(strings.Split(strings.TrimSpace(res.stderr), "\n")) != 2 {
				t.Errorf("stderr %q: want the status line and the message", res.stderr)
			}
		})
	}
	// Nothing listening: a failure (exit 1), not a usage error.
	cli.fails(1, "connection refused", "--host", "127.0.0.1", "--port", fmt.Sprint(testkit.FreePort(t)), "list")
}

func TestIntegrationAuthKey(t *testing.T) {
	srv := startSingleNode(t, "s3cret")
	cli := newCLIRunner(t)

	cli.fails(1, "401 Unauthorized", serverArgs(srv, "list")...)
	cli.ok(serverArgs(srv, "list", "--auth-key", "s3cret")...)
	created := canaryOf(t, cli.ok(serverArgs(srv, "create", "--name", "Keyed", "--periodicity", "60", "--auth-key", "s3cret")...))

	// configure stores the key; later commands use it; flags override it.
	cli.quiet(serverArgs(srv, "configure", "--auth-key", "s3cret")...)
	path := filepath.Join(cli.home, ".coal-mine.ini")
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("configuration file: %v, %v", info, err)
	}
	cli.ok("list")
	cli.fails(1, "401 Unauthorized", "list", "--no-auth-key")
	cli.fails(1, "401 Unauthorized", "list", "--auth-key", "wrong")

	// trigger needs no key, even when none is configured
	cli.quiet("configure", "--no-auth-key")
	cli.fails(1, "401 Unauthorized", "get", "--id", created["id"].(string))
	if out := cli.ok("trigger", "--id", created["id"].(string)); out["status"] != "ok" {
		t.Fatalf("trigger without a key: %v", out)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "s3cret") {
		t.Errorf("--no-auth-key left the key in the file:\n%s", data)
	}
}

func TestIntegrationConfigure(t *testing.T) {
	srv := startSingleNode(t, "")
	cli := newCLIRunner(t)
	port := fmt.Sprint(srv.port)

	// --host as a name and --port
	cli.quiet("configure", "--host", "127.0.0.1", "--port", port)
	data, err := os.ReadFile(filepath.Join(cli.home, ".coal-mine.ini"))
	if err != nil || !strings.Contains(string(data), "[coal-mine]") || !strings.Contains(string(data), "host") ||
		!strings.Contains(string(data), port) {
		t.Fatalf("configuration file %v:\n%s", err, data)
	}
	cli.ok("list")

	// --host as a URL, the port inside it; the stored port is removed with --port 0
	cli.quiet("configure", "--host", "http://127.0.0.1:"+port, "--port", "0")
	cli.ok("list")

	// flags override the file: a wrong stored port, the right one on the command line
	cli.quiet("configure", "--host", "127.0.0.1", "--port", fmt.Sprint(testkit.FreePort(t)))
	if res := cli.run("list"); res.code != 1 {
		t.Fatalf("list with a wrong stored port: %s", res)
	}
	cli.ok("list", "--port", port)
	cli.ok("list", "--host", "http://127.0.0.1:"+port, "--port", port)

	// $COAL_MINE_CONFIG names another file
	other := filepath.Join(t.TempDir(), "other.ini")
	cli.env = append(cli.env, "COAL_MINE_CONFIG="+other)
	if res := cli.run("list"); res.code != 1 {
		t.Fatalf("list with an empty $COAL_MINE_CONFIG file: %s", res)
	}
	cli.quiet("configure", "--host", "127.0.0.1", "--port", port)
	cli.ok("list")
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("configure did not write $COAL_MINE_CONFIG: %v", err)
	}

	// a bad host on the command line is a usage error
	cli.fails(2, "host must be", "configure", "--host", "ftp://example.com")
	res := cli.run("configure", "--port", port, "--human")
	if res.code != 0 || !strings.Contains(res.stdout, "server http://127.0.0.1:"+port+", no auth key") {
		t.Errorf("human configure: %s", res)
	}
}

func TestIntegrationOutputModes(t *testing.T) {
	srv := startSingleNode(t, "")
	cli := newCLIRunner(t)
	cli.ok(serverArgs(srv, "create", "--name", "Late Soon", "--periodicity", "1")...)
	id := canaryOf(t, cli.ok(serverArgs(srv, "create", "--name", "Shown", "--periodicity", "3600")...))["id"].(string)

	byDefault := cli.run(serverArgs(srv, "get", "--id", id)...)
	explicit := cli.run(serverArgs(srv, "get", "--id", id, "--json")...)
	if byDefault.code != 0 || explicit.code != 0 || byDefault.stdout != explicit.stdout || !strings.HasPrefix(byDefault.stdout, "{\n") {
		t.Fatalf("JSON by default when not at a terminal:\n%s\n%s", byDefault, explicit)
	}
	if !strings.Contains(explicit.stdout, "3600.0") {
		t.Errorf("--json changed the server's numbers: %s", explicit.stdout)
	}

	human := cli.run(serverArgs(srv, "get", "--id", id, "--human")...)
	for _, want := range []string{"Name:         Shown\n", "ID:           " + id, "Periodicity:  3600 seconds (1h)",
		"(in 59m", "Trigger URL:  http://127.0.0.1:" + fmt.Sprint(srv.port) + "/" + id, "Canary created"} {
		if !strings.Contains(human.stdout, want) {
			t.Errorf("human view lacks %q:\n%s", want, human)
		}
	}
	if strings.Contains(human.stdout, "\x1b[") {
		t.Errorf("colors when stdout is not a terminal:\n%q", human.stdout)
	}

	testkit.Eventually(t, 15*time.Second, func() error {
		table := cli.run(serverArgs(srv, "list", "--human")...)
		if !strings.Contains(table.stdout, "LATE") || !strings.Contains(table.stdout, "1 late") {
			return fmt.Errorf("list table without a LATE canary:\n%s", table)
		}
		return nil
	})
	table := cli.run(serverArgs(srv, "list", "--human")...)
	if !strings.HasPrefix(table.stdout, "ID ") || !strings.Contains(table.stdout, "Shown") {
		t.Errorf("list table:\n%s", table)
	}
	if res := cli.run(serverArgs(srv, "trigger", "--name", "late soon", "--human")...); !strings.Contains(res.stdout, "recovered") {
		t.Errorf("human trigger of a late canary: %s", res)
	}
	if res := cli.run(serverArgs(srv, "delete", "--id", id, "--human")...); res.stdout != "Deleted.\n" {
		t.Errorf("human delete: %s", res)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		if seen[x] == 0 {
			return false
		}
		seen[x]--
	}
	return true
}
