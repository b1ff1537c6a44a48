package main

// A three-node cluster of real coal-mine processes on loopback: writes through any node,
// a leader killed with SIGKILL while a deadline passes, restarts one node at a time.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

type testCluster struct {
	t     *testing.T
	nodes []*daemon
}

func startCluster(t *testing.T, bin, sinkAddr string, n int) *testCluster {
	t.Helper()
	return startClusterWith(t, bin, sinkAddr, n)
}

// startClusterWith starts n nodes with extra environment variables.
func startClusterWith(t *testing.T, bin, sinkAddr string, n int, env ...string) *testCluster {
	t.Helper()
	gossip := make([]string, n)
	for i := range gossip {
		gossip[i] = fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	}
	c := &testCluster{t: t}
	// Every node dies with the test, whatever it did to them (a kill of a dead process
	// is a no-op).
	t.Cleanup(func() {
		for _, d := range c.nodes {
			d.kill()
		}
	})
	for i := 0; i < n; i++ {
		d := newDaemon(t, bin, sinkAddr)
		d.env = append(d.env, env...)
		d.args = append(d.args,
			"--node-id", fmt.Sprintf("node%d", i+1),
			"--gossip-addr", gossip[i],
			"--join", strings.Join(gossip, ","),
			"--bootstrap-expect", fmt.Sprint(n),
		)
		c.nodes = append(c.nodes, d)
	}
	// Start them all before waiting: none is ready until a quorum has formed.
	for _, d := range c.nodes {
		d.launch()
	}
	for _, d := range c.nodes {
		d.waitReady()
	}
	return c
}

// status reads a node's view of the cluster; ok is false if the node does not answer.
func (d *daemon) status() (map[string]any, bool) {
	client := http.Client{Timeout: 2 * time.Second, Transport: d.http().Transport}
	resp, err := client.Get(d.base + "/coal-mine/v1/cluster/status?auth_key=" + url.QueryEscape(d.authKey))
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	var out map[string]any
	if json.NewDecoder(resp.Body).Decode(&out) != nil || resp.StatusCode != http.StatusOK {
		return nil, false
	}
	return out, true
}

// leader waits until a live node reports itself leader, skipping the nodes in except.
func (c *testCluster) leader(timeout time.Duration, except ...*daemon) *daemon {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, d := range c.nodes {
			if contains(except, d) {
				continue
			}
			if st, ok := d.status(); ok && st["state"] == "leader" {
				return d
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no leader elected")
	return nil
}

func contains(ds []*daemon, d *daemon) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

func (c *testCluster) followers(leader *daemon) []*daemon {
	var out []*daemon
	for _, d := range c.nodes {
		if d != leader {
			out = append(out, d)
		}
	}
	return out
}

func canaries(d *daemon) []any {
	out := d.mustCall("list", url.Values{"verbose": {"1"}})["canaries"].([]any)
	sort.Slice(out, func(i, j int) bool {
		return out[i].(map[string]any)["id"].(string) < out[j].(map[string]any)["id"].(string)
	})
	return out
}

func TestClusterSurvivesLeaderKillAndRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three real processes")
	}
	sink := startSink(t)
	c := startCluster(t, buildBinary(t), sink.Addr(), 3)
	leader := c.leader(10 * time.Second)
	followers := c.followers(leader)

	// Create through a follower, trigger through the other follower and by short URL.
	created := followers[0].mustCall("create", url.Values{"name": {"Replicated"}, "periodicity": {"3600"}})
	id := created["canary"].(map[string]any)["id"].(string)
	followers[1].mustCall("trigger", url.Values{"id": {id}, "comment": {"via follower"}})
	resp, err := http.Get(followers[0].base + "/" + id)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("short trigger on a follower: %v %v", err, resp)
	}
	resp.Body.Close()
	want := canaries(leader)
	for _, d := range c.nodes {
		testkit.Eventually(t, 5*time.Second, func() error { // same state on every node
			if got := canaries(d); !reflect.DeepEqual(got, want) {
				return fmt.Errorf("%s has %v, leader has %v", d.base, got, want)
			}
			return nil
		})
	}

	// A canary due in one second; kill the leader at once, so the deadline passes while
	// the others elect a new leader, which must send exactly one LATE.
	fast := followers[0].mustCall("create", url.Values{"name": {"Due during election"}, "periodicity": {"1"}, "email": {"ops@example.org"}})
	fastID := fast["canary"].(map[string]any)["id"].(string)
	killed := time.Now()
	leader.kill()
	newLeader := c.leader(15*time.Second, leader)
	elected := time.Since(killed)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sink.WaitFor(ctx, 1); err != nil {
		t.Fatalf("no LATE mail after failover: %v", err)
	}
	mailed := time.Since(killed)
	t.Logf("leader killed: new leader after %v, LATE mail %v after that (deadline was 1s after the kill)", elected, mailed-elected)
	time.Sleep(3 * time.Second) // a duplicate would arrive in this time
	msgs := sink.Messages()
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0].Subject, "[LATE] Due during election") {
		t.Fatalf("want exactly one LATE mail, got %d: %+v", len(msgs), msgs)
	}
	got := newLeader.mustCall("get", url.Values{"id": {fastID}})["canary"].(map[string]any)
	if got["late"] != true {
		t.Fatalf("canary not late on the new leader: %v", got)
	}
	newLeader.mustCall("pause", url.Values{"id": {fastID}})

	// The killed node comes back with its data and catches up.
	leader.start()
	want = canaries(newLeader)
	testkit.Eventually(t, 10*time.Second, func() error { // restarted node catches up
		if got := canaries(leader); !reflect.DeepEqual(got, want) {
			return fmt.Errorf("restarted node has %v", got)
		}
		return nil
	})

	// Restart every node in turn (graceful stop); nothing is lost and writes keep working.
	for i, d := range c.nodes {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		_ = d.cmd.Wait()
		c.leader(15*time.Second, d).mustCall("trigger", url.Values{"id": {id}, "comment": {fmt.Sprint("rolling ", i)}})
		d.start()
	}
	final := canaries(c.leader(10 * time.Second))
	for _, d := range c.nodes {
		testkit.Eventually(t, 10*time.Second, func() error { // same state after rolling restart
			if got := canaries(d); !reflect.DeepEqual(got, final) {
				return fmt.Errorf("%s differs", d.base)
			}
			return nil
		})
	}
	hist := final[0].(map[string]any)["history"]
	if len(final) != 2 || !strings.Contains(fmt.Sprint(hist, final[1].(map[string]any)["history"]), "rolling 2") {
		t.Fatalf("rolling-restart triggers lost: %v", final)
	}
}

// terminate sends SIGTERM and returns how long the process took to exit cleanly.
func (d *daemon) terminate() time.Duration {
	d.t.Helper()
	start := time.Now()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			d.t.Errorf("%s: exit after SIGTERM: %v\n%s", d.base, err, d.log)
		}
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		d.t.Fatalf("%s: still running 30 s after SIGTERM", d.base)
	}
	return time.Since(start)
}

// exitLimit is what "SIGTERM ends the process within 5 s" allows a loaded test machine
// for starting and reaping the process.
const exitLimit = 6 * time.Second

// TestSIGTERMEndsEveryNodePromptly: a node stops within 5 s of SIGTERM whatever the
// cluster is doing: the last node alive of three (no quorum to leave with), and every
// node of a cluster stopped at once, as docker compose down does.
func TestSIGTERMEndsEveryNodePromptly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	bin := buildBinary(t)
	sink := startSink(t)

	t.Run("the last node alive", func(t *testing.T) {
		c := startCluster(t, bin, sink.Addr(), 3)
		leader := c.leader(15 * time.Second)
		for _, f := range c.followers(leader) {
			f.kill()
		}
		took := leader.terminate()
		t.Logf("the last node alive stopped in %v", took)
		if took > exitLimit {
			t.Errorf("the last node took %v to stop", took)
		}
	})
	t.Run("every node at once", func(t *testing.T) {
		c := startCluster(t, bin, sink.Addr(), 3)
		c.leader(15 * time.Second)
		took := make(chan time.Duration, len(c.nodes))
		for _, d := range c.nodes {
			go func() { took <- d.terminate() }()
		}
		for range c.nodes {
			d := <-took
			t.Logf("a node stopped in %v", d)
			if d > exitLimit {
				t.Errorf("a node took %v to stop", d)
			}
		}
	})
	t.Run("the leader hands over", func(t *testing.T) {
		c := startCluster(t, bin, sink.Addr(), 3)
		leader := c.leader(15 * time.Second)
		took := leader.terminate()
		t.Logf("the leader stopped in %v", took)
		if took > exitLimit {
			t.Errorf("the leader took %v to stop", took)
		}
		if !strings.Contains(leader.log.String(), "leadership transfer") && !strings.Contains(leader.log.String(), "lost leadership") {
			t.Errorf("the leader did not hand over:\n%s", leader.log)
		}
		c.leader(5*time.Second, leader)
	})
}

// scrape returns a node's /metrics text.
func (d *daemon) scrape() string {
	d.t.Helper()
	resp, err := http.Get(d.base + "/metrics")
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		d.t.Fatalf("/metrics: %d %v", resp.StatusCode, err)
	}
	return string(body)
}

// metricValue finds one sample ("name" or `name{labels}`) in a scrape.
func metricValue(scrape, series string) (float64, bool) {
	for _, line := range strings.Split(scrape, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err == nil {
				return v, true
			}
		}
	}
	return 0, false
}

// TestMetricsLetAnOperatorPage: every node exports its Raft role and health, the
// cluster's membership, the state's and the outbox's figures; the leader also counts
// the notifications it sent and how late it marked canaries. No canary name or id is
// ever a label.
func TestMetricsLetAnOperatorPage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	bin := buildBinary(t)
	sink := startSink(t)
	c := startCluster(t, bin, sink.Addr(), 3)
	leader := c.leader(15 * time.Second)
	canary := leader.mustCall("create", url.Values{"name": {"Nightly Secret Job"}, "periodicity": {"1"}, "email": {"ops@example.org"}})["canary"].(map[string]any)
	id := canary["id"].(string)
	leader.mustCall("create", url.Values{"name": {"Paused Job"}, "periodicity": {"3600"}, "paused": {"true"}})

	testkit.Eventually(t, 15*time.Second, func() error { // the late canary is mailed
		if v, _ := metricValue(leader.scrape(), `coal_mine_notifications_sent_total{kind="late",outcome="sent"}`); v != 1 {
			return fmt.Errorf("late notifications sent: %v", v)
		}
		return nil
	})
	leaders := 0.0
	for _, d := range c.nodes {
		var text string
		want := map[string]float64{
			"coal_mine_raft_voters": 3, `coal_mine_cluster_members{state="alive"}`: 3,
			`coal_mine_cluster_members{state="failed"}`: 0, "coal_mine_ready": 1,
			"coal_mine_canaries": 2, "coal_mine_canaries_late": 1, "coal_mine_canaries_paused": 1,
		}
		testkit.Eventually(t, 10*time.Second, func() error { // d.base metrics
			text = d.scrape()
			for series, v := range want {
				if got, ok := metricValue(text, series); !ok || got != v {
					return fmt.Errorf("%s = %v (present %v), want %v", series, got, ok, v)
				}
			}
			return nil
		})
		for _, series := range []string{"coal_mine_raft_term", "coal_mine_raft_commit_index", "coal_mine_raft_applied_index",
			"coal_mine_raft_last_contact_seconds", "coal_mine_outbox_records", "coal_mine_outbox_oldest_age_seconds",
			`coal_mine_http_requests_total{code="200",endpoint="/coal-mine/v1/canary/create"}`} {
			if _, ok := metricValue(text, series); !ok && (d == leader || !strings.Contains(series, "http")) {
				t.Errorf("%s: no %s", d.base, series)
			}
		}
		v, _ := metricValue(text, "coal_mine_raft_leader")
		leaders += v
		if strings.Contains(text, "Nightly") || strings.Contains(text, "nightly-secret-job") || strings.Contains(text, id) {
			t.Errorf("%s: a canary's name or id appears in /metrics", d.base)
		}
	}
	if leaders != 1 {
		t.Errorf("coal_mine_raft_leader sums to %v over the cluster, want 1", leaders)
	}
	if n, _ := metricValue(leader.scrape(), "coal_mine_mark_late_delay_seconds_count"); n != 1 {
		t.Errorf("the leader observed %v mark-late delays, want 1", n)
	}
}
