package main

// Signals, max runtime, grace and timed pause on a real three-node cluster with an SMTP
// sink: each fires exactly once, also when the leader is killed before it is due.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/alerting/smtpsink"
	"github.com/coal-mine/coal-mine/deploy/testkit"
)

// ping sends one signal to a node's ping URL, as a job's curl line would.
func (d *daemon) ping(path, body string) {
	d.t.Helper()
	method := http.MethodGet
	if body != "" {
		method = http.MethodPost
	}
	req, err := http.NewRequest(method, d.base+path, strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	resp, err := d.http().Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		d.t.Fatalf("%s %s: %s", method, path, resp.Status)
	}
}

func (d *daemon) canary(id string) map[string]any {
	d.t.Helper()
	return d.mustCall("get", url.Values{"id": {id}})["canary"].(map[string]any)
}

// subjects counts the mails whose subject starts with each prefix.
func subjects(sink *smtpsink.Sink) map[string]int {
	out := map[string]int{}
	for _, m := range sink.Messages() {
		out[m.Subject]++
	}
	return out
}

func historyCount(c map[string]any, comment string) int {
	n := 0
	for _, h := range c["history"].([]any) {
		if h.([]any)[1] == comment {
			n++
		}
	}
	return n
}

func TestSignalsAndTimersOnACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three real processes")
	}
	sink := startSink(t)
	c := startCluster(t, buildBinary(t), sink.Addr(), 3)
	leader := c.leader(10 * time.Second)
	f := c.followers(leader)
	create := func(name string, extra url.Values) string {
		params := url.Values{"name": {name}, "email": {"ops@example.org"}}
		for k, v := range extra {
			params[k] = v
		}
		return f[0].mustCall("create", params)["canary"].(map[string]any)["id"].(string)
	}

	// Three timers armed on the old leader, all due after it is killed.
	overrun := create("Overrun", url.Values{"periodicity": {"3600"}, "max_runtime": {"2"}})
	graced := create("Graced", url.Values{"periodicity": {"2"}, "grace": {"3"}})
	paused := create("Paused", url.Values{"periodicity": {"3600"}})
	f[1].ping("/ping/"+overrun+"/start", "")
	f[0].mustCall("pause", url.Values{"id": {paused}, "for": {"2"}})
	if got := f[0].canary(graced); got["state"] != "up" {
		t.Fatalf("graced canary = %v", got)
	}
	leader.kill()
	newLeader := c.leader(15*time.Second, leader)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sink.WaitFor(ctx, 2); err != nil {
		t.Fatalf("timers after failover: %v; got %v", err, subjects(sink))
	}
	testkit.Eventually(t, 20*time.Second, func() error {
		if got := newLeader.canary(paused); got["state"] != "up" || historyCount(got, "Unpaused (pause expired)") != 1 {
			return fmt.Errorf("timed pause: %v", got)
		}
		return nil
	})
	for _, m := range sink.Messages() {
		if strings.HasPrefix(m.Subject, "[LATE] Graced") {
			deadline, _ := time.Parse("2006-01-02T15:04:05.999999-07:00", newLeader.canary(graced)["deadline"].(string))
			if m.At.Before(deadline) {
				t.Errorf("grace: LATE mailed at %v, before the deadline %v", m.At, deadline)
			}
		}
	}

	// A failure reported through a follower, then a success through the other.
	job := create("Nightly", url.Values{"periodicity": {"3600"}})
	f[0].ping("/"+job+"/start?rid=run-1", "")
	f[1].ping("/ping/"+job+"/3?rid=run-1", "disk full")
	testkit.Eventually(t, 10*time.Second, func() error {
		if subjects(sink)["[FAILED] Nightly reported failure (exit status 3)"] != 1 {
			return fmt.Errorf("no FAILED mail yet: %v", subjects(sink))
		}
		return nil
	})
	got := newLeader.canary(job)
	if got["state"] != "failed" || got["late"] != true || got["last_exit_status"] != 3.0 {
		t.Fatalf("failed canary = %v", got)
	}
	f[0].ping("/"+job+"/fail", "") // still failed: no second mail
	f[1].ping("/"+job, "")
	testkit.Eventually(t, 10*time.Second, func() error {
		if subjects(sink)["[RESUMED] Nightly is reporting again"] != 1 {
			return fmt.Errorf("no RESUMED mail yet: %v", subjects(sink))
		}
		return nil
	})
	runs := newLeader.mustCall("runs", url.Values{"id": {job}})["runs"].([]any)
	if len(runs) != 2 || !strings.Contains(fmt.Sprint(runs), "disk full") {
		t.Fatalf("runs = %v", runs)
	}

	// Exactly once each: a duplicate would arrive in this time.
	time.Sleep(3 * time.Second)
	want := map[string]int{
		"[LATE] Overrun started and has not finished":       1,
		"[LATE] Graced has not reported":                    1,
		"[FAILED] Nightly reported failure (exit status 3)": 1,
		"[RESUMED] Nightly is reporting again":              1,
	}
	if got := subjects(sink); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("mails = %v, want %v", got, want)
	}
	if got := newLeader.canary(paused); historyCount(got, "Unpaused (pause expired)") != 1 {
		t.Fatalf("pause expired more than once: %v", got["history"])
	}
}

// TestWholeClusterOutageMovesDeadlines: every node killed for longer than
// --outage-after; a canary that fell due meanwhile is not LATE on return, its deadline
// lies after the restart, and the admin gets one OUTAGE mail.
func TestWholeClusterOutageMovesDeadlines(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three real processes")
	}
	sink := startSink(t)
	bin := buildBinary(t)
	c := startClusterWith(t, bin, sink.Addr(), 3, "COAL_MINE_ADMIN_EMAIL=admin@example.org")
	leader := c.leader(10 * time.Second)
	// An admin webhook channel hears of the outage too.
	rc := newHookReceiver()
	srv := httptest.NewServer(rc)
	defer srv.Close()
	leader.mustCallAPI("channel/create", url.Values{"name": {"admin-hook"}, "kind": {"webhook"}, "url": {srv.URL}, "admin": {"true"}})
	id := leader.mustCall("create", url.Values{"name": {"Every eight"}, "periodicity": {"8"}, "email": {"ops@example.org"}})["canary"].(map[string]any)["id"].(string)
	for _, d := range c.nodes {
		d.kill()
	}
	time.Sleep(14 * time.Second) // the outage: longer than --outage-after (10 s)
	for _, d := range c.nodes {
		d.launch()
	}
	for _, d := range c.nodes {
		d.waitReady()
	}
	restarted := time.Now()
	leader = c.leader(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := sink.WaitFor(ctx, 1); err != nil {
		t.Fatalf("no mail after the outage: %v", err)
	}
	msgs := sink.Messages()
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0].Subject, "[OUTAGE] coal-mine could not accept triggers from ") || msgs[0].To[0] != "admin@example.org" {
		t.Fatalf("first mail after the outage: %+v", msgs)
	}
	got := leader.canary(id)
	deadline, err := time.Parse("2006-01-02T15:04:05.999999-07:00", got["deadline"].(string))
	if err != nil || got["late"] != false || !deadline.After(restarted.Add(-2*time.Second)) {
		t.Fatalf("after the outage: late %v, deadline %v (restart %v)", got["late"], got["deadline"], restarted)
	}
	if !strings.Contains(fmt.Sprint(got["history"]), "Deadline moved: monitor unavailable ") {
		t.Fatalf("history: %v", got["history"])
	}
	testkit.Eventually(t, 30*time.Second, func() error {
		if n := rc.count("outage"); n != 1 {
			return fmt.Errorf("%d outage events at the admin webhook, want 1", n)
		}
		return nil
	})
	// It goes late at the moved deadline, not before.
	if err := sink.WaitFor(ctx, 2); err != nil {
		t.Fatalf("no LATE at the moved deadline: %v", err)
	}
	late := sink.Messages()[1]
	if !strings.HasPrefix(late.Subject, "[LATE] Every eight") || late.At.Before(deadline) {
		t.Fatalf("second mail %q at %v, deadline %v", late.Subject, late.At, deadline)
	}
}
