package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

func singleNodeConfig(t testing.TB, dir string) Config {
	return Config{
		DataDir:  dir,
		RaftAddr: "127.0.0.1:0",
		HTTPAddr: "127.0.0.1:8080",
		Logger:   newTestLogger(t),
	}
}

// startLeader starts a single node and waits until it leads.
func startLeader(t *testing.T, cfg Config, fsm raft.FSM) *Node {
	t.Helper()
	n, err := New(context.Background(), cfg, fsm)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.WaitLeader(ctxTimeout(t, 10*time.Second)); err != nil {
		n.Shutdown()
		t.Fatal(err)
	}
	return n
}

func TestSingleNodeBootstrapsAndApplies(t *testing.T) {
	t.Parallel()
	fsm := testkit.NewKV()
	n, err := New(context.Background(), singleNodeConfig(t, t.TempDir()), fsm)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()

	if err := n.WaitLeader(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if !n.IsLeader() || n.LeaderID() != n.ID() {
		t.Fatalf("a lone node should lead itself: leader %q, self %q", n.LeaderID(), n.ID())
	}
	resp, err := n.Apply(ctxTimeout(t, 5*time.Second), testkit.SetCmd("a", "1"))
	if err != nil {
		t.Fatal(err)
	}
	if resp != 1 {
		t.Errorf("Apply returned %v, want the FSM's answer 1", resp)
	}
	if v, _ := fsm.Get("a"); v != "1" {
		t.Errorf("FSM has a=%q", v)
	}
	if got := n.LeaderHTTPAddr(); got != "127.0.0.1:8080" {
		t.Errorf("LeaderHTTPAddr = %q", got)
	}
	if err := n.VerifyLeader(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Errorf("VerifyLeader: %v", err)
	}
	testkit.Eventually(t, 5*time.Second, func() error {
		if !n.Ready() {
			return errors.New("not ready")
		}
		return nil
	})

	st := n.Status()
	if st.State != "leader" || st.LeaderID != n.ID() || st.Term == 0 || st.AppliedIndex < st.CommitIndex || !st.Ready {
		t.Errorf("status: %+v", st)
	}
	if len(st.Members) != 1 || !st.Members[0].Voter || !st.Members[0].Leader || st.Members[0].GossipState != "alive" {
		t.Errorf("members: %+v", st.Members)
	}
}

func TestSingleNodeRestartKeepsState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := singleNodeConfig(t, dir)
	n := startLeader(t, cfg, testkit.NewKV())
	id := n.ID()
	apply(t, n, "before-snapshot", "1")
	if err := n.raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	apply(t, n, "after-snapshot", "2")
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if _, err := n.Apply(context.Background(), testkit.SetCmd("x", "y")); !errors.Is(err, ErrShutdown) {
		t.Errorf("Apply after Shutdown: %v, want ErrShutdown", err)
	}

	fsm := testkit.NewKV()
	n, err := New(context.Background(), cfg, fsm)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()
	if n.ID() != id {
		t.Errorf("restarted as %q, was %q: a generated id must persist", n.ID(), id)
	}
	if err := n.WaitLeader(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	// Leading comes first; the entries after the snapshot are applied once the new
	// term's first entry commits. Ready is the promise that they have been.
	testkit.Eventually(t, 10*time.Second, func() error {
		if !n.Ready() {
			return errors.New("not ready")
		}
		return nil
	})
	for key, want := range map[string]string{"before-snapshot": "1", "after-snapshot": "2"} {
		if got, _ := fsm.Get(key); got != want {
			t.Errorf("after restart %s=%q, want %q", key, got, want)
		}
	}
	apply(t, n, "after-restart", "3")
}

func TestDataDirInUseIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n, err := New(context.Background(), singleNodeConfig(t, dir), testkit.NewKV())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()
	if second, err := New(context.Background(), singleNodeConfig(t, dir), testkit.NewKV()); err == nil {
		second.Shutdown()
		t.Fatal("a second node on the same data dir started")
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no data dir", Config{}},
		{"expect without gossip", Config{DataDir: "x", BootstrapExpect: 3}},
		{"join without gossip", Config{DataDir: "x", Join: []string{"127.0.0.1:7946"}}},
		{"bad raft address", Config{DataDir: "x", RaftAddr: "localhost"}},
		{"bad port", Config{DataDir: "x", GossipAddr: "127.0.0.1:http"}},
		{"negative expect", Config{DataDir: "x", GossipAddr: "127.0.0.1:0", BootstrapExpect: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg.withDefaults()
			if err := cfg.validate(); err == nil {
				t.Errorf("%+v accepted", tt.cfg)
			}
		})
	}
	ok := Config{DataDir: "x"}.withDefaults()
	if err := ok.validate(); err != nil {
		t.Errorf("minimal config refused: %v", err)
	}
	if ok.RaftAddr != defaultSingleRaftAddr || ok.BootstrapExpect != 1 {
		t.Errorf("defaults: %+v", ok)
	}
}

// A log that grows by SnapshotLogBytes is snapshotted well before raft's threshold of
// 8,192 entries, so that a restart restores a snapshot instead of replaying big entries.
func TestSnapshotByLogSize(t *testing.T) {
	t.Parallel()
	cfg := singleNodeConfig(t, t.TempDir())
	cfg.SnapshotLogBytes = 64 << 10
	n := startLeader(t, cfg, testkit.NewKV())
	snapshots := func() int {
		metas, err := n.store.Snapshots().List()
		if err != nil {
			t.Fatal(err)
		}
		return len(metas)
	}
	apply(t, n, "small", "v")
	time.Sleep(2 * snapshotCheckInterval)
	if got := snapshots(); got != 0 {
		t.Fatalf("%d snapshots of a log far below the threshold", got)
	}
	big := strings.Repeat("x", 8<<10)
	for i := range 10 {
		apply(t, n, fmt.Sprintf("k%d", i), big)
	}
	testkit.Eventually(t, 5*snapshotCheckInterval, func() error {
		if snapshots() == 0 {
			return errors.New("no snapshot after the log grew by 80 KiB")
		}
		return nil
	})
}
