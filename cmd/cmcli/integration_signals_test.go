package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

// Integration tests of the signals, runs and job settings (notes/spec16.md): the real
// cmcli binary against a real single-node coal-mine.

// runsOf returns the runs of a canary, newest first.
func runsOf(t *testing.T, cli *cliRunner, srv *testServer, id string) []map[string]any {
	t.Helper()
	out := cli.ok(serverArgs(srv, "runs", "--id", id)...)
	list, ok := out["runs"].([]any)
	if !ok {
		t.Fatalf("no runs in %v", out)
	}
	var runs []map[string]any
	for _, r := range list {
		runs = append(runs, r.(map[string]any))
	}
	return runs
}

func TestIntegrationRunFailingJob(t *testing.T) {
	srv := startSingleNode(t, "")
	cli := newCLIRunner(t)
	id := canaryOf(t, cli.ok(serverArgs(srv, "create", "--name", "Flaky", "--periodicity", "3600")...))["id"].(string)

	if res := cli.run(serverArgs(srv, "run", "--id", id, "--", "sh", "-c", "echo fine")...); res.code != 0 || res.stderr != "" {
		t.Fatalf("successful job: %s", res)
	}
	res := cli.run(serverArgs(srv, "run", "--id", id, "--", "sh", "-c", "echo oops; exit 3")...)
	if res.code != 3 || res.stdout != "oops\n" || res.stderr != "" {
		t.Fatalf("failing job: %s; want exit 3, its output and nothing from cmcli", res)
	}

	c := canaryOf(t, cli.ok(serverArgs(srv, "get", "--id", id)...))
	if c["state"] != "failed" || c["last_exit_status"] != 3.0 || c["late"] != true {
		t.Errorf("after the failing job: state %v, last_exit_status %v, late %v; want failed, 3, true", c["state"], c["last_exit_status"], c["late"])
	}
	if d, ok := c["last_duration"].(float64); ok && d < 0 {
		t.Errorf("last_duration %v", c["last_duration"])
	}

	runs := runsOf(t, cli, srv, id)
	if len(runs) != 2 {
		t.Fatalf("runs %v, want the failure and the success", runs)
	}
	failed, succeeded := runs[0], runs[1]
	if failed["state"] != "failed" || failed["exit_status"] != 3.0 || !strings.Contains(fmt.Sprint(failed["output"]), "oops") {
		t.Errorf("newest run %v: want failed, exit 3, output with oops", failed)
	}
	// Start and end were paired by their rid: each run has both ends and a duration.
	for _, r := range runs {
		if r["rid"] == nil || r["started"] == nil || r["ended"] == nil || r["duration"] == nil {
			t.Errorf("run %v: want rid, started, ended and duration", r)
		}
	}
	if succeeded["state"] != "success" || succeeded["exit_status"] != 0.0 || succeeded["output"] != "fine\n" || failed["rid"] == succeeded["rid"] {
		t.Errorf("older run %v (newest %v)", succeeded, failed)
	}

	human := cli.run(serverArgs(srv, "runs", "--id", id, "--human")...)
	if human.code != 0 || !strings.HasPrefix(human.stdout, "STARTED ") || !strings.Contains(human.stdout, "failed") ||
		!strings.Contains(human.stdout, "oops") || !strings.Contains(human.stdout, "2 runs\n") {
		t.Errorf("human runs: %s", human)
	}
	get := cli.run(serverArgs(srv, "get", "--id", id, "--human")...)
	if !strings.Contains(get.stdout, "State:        FAILED\n") || !strings.Contains(get.stdout, "Last run:     exit 3 in ") {
		t.Errorf("human get: %s", get)
	}
}

func TestIntegrationCreateWithCron(t *testing.T) {
	srv := startSingleNode(t, "")
	cli := newCLIRunner(t)
	c := canaryOf(t, cli.ok(serverArgs(srv, "create", "--name", "Tokyo Report", "--cron", "0 2 * * *", "--tz", "Asia/Tokyo", "--grace", "600")...))
	if c["cron"] != "0 2 * * *" || c["tz"] != "Asia/Tokyo" || c["grace"] != 600.0 || c["state"] != "up" {
		t.Fatalf("created %v", c)
	}
	if p, has := c["periodicity"]; !has || p != nil {
		t.Errorf("periodicity %v (present %v), want null for a cron canary", p, has)
	}
	// The deadline is the next 02:00 in Tokyo (no daylight saving: UTC+9) plus the grace.
	deadline, ok := parseAPITime(fmt.Sprint(c["deadline"]))
	if tokyo := deadline.In(time.FixedZone("JST", 9*3600)); !ok || tokyo.Hour() != 2 || tokyo.Minute() != 10 ||
		!deadline.After(time.Now()) || deadline.After(time.Now().Add(24*time.Hour+10*time.Minute)) {
		t.Errorf("deadline %v, want the next 02:10 in Tokyo", c["deadline"])
	}
	id := c["id"].(string)

	human := cli.run(serverArgs(srv, "get", "--id", id, "--human")...)
	for _, want := range []string{"Cron:         0 2 * * *\n", "Time zone:    Asia/Tokyo\n", "Grace:        600 seconds (10m)\n", "State:        up\n"} {
		if !strings.Contains(human.stdout, want) {
			t.Errorf("human get lacks %q: %s", want, human)
		}
	}
	if strings.Contains(human.stdout, "Periodicity:") {
		t.Errorf("human get of a cron canary shows a periodicity: %s", human)
	}

	// Durations are sent as seconds; --periodicity replaces the cron; 0 clears grace.
	u := canaryOf(t, cli.ok(serverArgs(srv, "update", "--id", id, "--max-runtime", "1h30m")...))
	if u["max_runtime"] != 5400.0 || u["cron"] != "0 2 * * *" {
		t.Errorf("update --max-runtime: %v", u)
	}
	u = canaryOf(t, cli.ok(serverArgs(srv, "update", "--id", id, "--periodicity", "3600", "--grace", "0")...))
	if _, has := u["cron"]; has || u["periodicity"] != 3600.0 {
		t.Errorf("update --periodicity: %v; want the cron replaced", u)
	}
	if _, has := u["grace"]; has {
		t.Errorf("update --grace 0: %v; want no grace", u)
	}
	cli.fails(2, "--periodicity and --cron exclude each other", serverArgs(srv, "update", "--id", id, "--periodicity", "60", "--cron", "@daily")...)
	cli.fails(2, "create needs --periodicity or --cron", serverArgs(srv, "create", "--name", "Neither")...)
	cli.fails(1, "400 Bad Request", serverArgs(srv, "create", "--name", "Bad Zone", "--cron", "@daily", "--tz", "Nowhere/Special")...)
}

func TestIntegrationPauseFor(t *testing.T) {
	srv := startSingleNode(t, "")
	cli := newCLIRunner(t)
	id := canaryOf(t, cli.ok(serverArgs(srv, "create", "--name", "Held", "--periodicity", "3600")...))["id"].(string)

	p := canaryOf(t, cli.ok(serverArgs(srv, "pause", "--id", id, "--for", "2s")...))
	if p["paused"] != true || p["state"] != "paused" || p["paused_until"] == nil {
		t.Fatalf("pause --for 2s: %v", p)
	}
	testkit.Eventually(t, 20*time.Second, func() error {
		c := canaryOf(t, cli.ok(serverArgs(srv, "get", "--id", id)...))
		if c["paused"] != false || c["state"] == "paused" {
			return fmt.Errorf("still paused: %v", c)
		}
		return nil
	})

	// --until is sent as the moment it names.
	until := time.Now().Add(time.Hour).Truncate(time.Second)
	p = canaryOf(t, cli.ok(serverArgs(srv, "pause", "--id", id, "--until", until.In(time.FixedZone("", -5*3600)).Format(time.RFC3339))...))
	got, ok := parseAPITime(fmt.Sprint(p["paused_until"]))
	if !ok || !got.Equal(until) {
		t.Errorf("pause --until %v: paused_until %v", until, p["paused_until"])
	}
	cli.fails(2, "--until and --for exclude each other", serverArgs(srv, "pause", "--id", id, "--for", "1m", "--until", "2030-01-01")...)
}
