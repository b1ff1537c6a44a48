package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

func mustKey(t testing.TB) []byte {
	t.Helper()
	key, err := ParseClusterKey(NewClusterKey())
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestParseClusterKey(t *testing.T) {
	good := NewClusterKey()
	for _, tt := range []struct {
		in, wantErr string
	}{
		{good, ""},
		{" " + good + "\n", ""},
		{strings.TrimRight(good, "="), ""},
		{"c2hvcnQ=", "a cluster key is 32 bytes, this one 5"},
		{"not base64 at all!", "a cluster key is base64"},
	} {
		key, err := ParseClusterKey(tt.in)
		switch {
		case tt.wantErr == "" && (err != nil || len(key) != ClusterKeySize):
			t.Errorf("%q: %v", tt.in, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%q: %v, want %q", tt.in, err, tt.wantErr)
		}
	}
	if NewClusterKey() == good {
		t.Error("two keys alike")
	}
}

// TestNoCredentialBeyondLoopbackIsRefused: a node reachable from other machines without
// a cluster key refuses to start, unless told it is insecure on purpose.
func TestNoCredentialBeyondLoopbackIsRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		raft     string
		gossip   string
		keys     bool
		insecure bool
		wantErr  bool
	}{
		{name: "loopback", raft: "127.0.0.1:0", gossip: "127.0.0.1:0"},
		{name: "raft on every interface", raft: "0.0.0.0:0", wantErr: true},
		{name: "gossip on every interface", raft: "127.0.0.1:0", gossip: "0.0.0.0:0", wantErr: true},
		{name: "with a key", raft: "0.0.0.0:0", gossip: "0.0.0.0:0", keys: true},
		{name: "insecure on purpose", raft: "0.0.0.0:0", insecure: true},
	} {
		cfg := Config{DataDir: t.TempDir(), RaftAddr: tt.raft, GossipAddr: tt.gossip, Insecure: tt.insecure}
		if tt.keys {
			cfg.Keys = [][]byte{mustKey(t)}
		}
		cfg = cfg.withDefaults()
		err := cfg.validate()
		if gotErr := errors.Is(err, ErrNoCredential); gotErr != tt.wantErr {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

// TestKeyedClusterKeepsStrangersOut: nodes without the key, or with another one, that
// join a keyed cluster never become members or voters and never see its data; the
// members talk over TLS as before.
func TestKeyedClusterKeepsStrangersOut(t *testing.T) {
	t.Parallel()
	key := mustKey(t)
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.Keys = [][]byte{key} })
	leader := c.waitLeader(formTimeout)
	c.write("secret", "data")
	waitValue(t, syncTimeout, "secret", "data", c.nodes...)

	var gossip []string
	for _, tn := range c.nodes {
		gossip = append(gossip, tn.node.GossipAddr())
	}
	for _, rogue := range []struct {
		name string
		keys [][]byte
	}{{"rogue-nokey", nil}, {"rogue-wrongkey", [][]byte{mustKey(t)}}} {
		fsm := testkit.NewKV()
		n, err := New(context.Background(), Config{
			NodeID: rogue.name, DataDir: t.TempDir(), RaftAddr: "127.0.0.1:0", GossipAddr: "127.0.0.1:0",
			HTTPAddr: "127.0.0.1:9", Join: gossip, BootstrapExpect: 1, Keys: rogue.keys,
			Logger: c.logger, TuneGossip: fastGossip,
		}, fsm)
		if err != nil {
			t.Fatal(err)
		}
		defer n.Shutdown()
		// Long enough for many gossip rounds and join attempts (fastGossip probes every
		// 200 ms); a member would have been added within a second.
		time.Sleep(3 * time.Second)
		for _, tn := range c.nodes {
			for _, m := range tn.node.Status().Members {
				if m.ID == rogue.name {
					t.Errorf("%s: %s knows it as a member (%s, voter %v)", rogue.name, tn.id, m.GossipState, m.Voter)
				}
			}
		}
		if _, ok := fsm.Get("secret"); ok {
			t.Errorf("%s received the cluster's data", rogue.name)
		}
	}
	if got := voters(t, leader.node); len(got) != 3 {
		t.Errorf("voters %v, want the three members", got)
	}
	c.write("after", "rogues")
	waitValue(t, syncTimeout, "after", "rogues", c.nodes...)
}

// TestStrangersRaftRPCsChangeNothing: raw Raft RPCs from a process without the key (a
// forged AppendEntries, a flood of TimeoutNow, a garbage InstallSnapshot) fail at the
// transport; the cluster's term, log and state do not move.
func TestStrangersRaftRPCsChangeNothing(t *testing.T) {
	t.Parallel()
	key := mustKey(t)
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.Keys = [][]byte{key} })
	leader := c.waitLeader(formTimeout)
	c.write("k", "v")
	follower := c.followers(leader)[0]
	waitValue(t, syncTimeout, "k", "v", follower)
	term, last := follower.node.raft.CurrentTerm(), follower.node.raft.LastIndex()

	stranger, err := raft.NewTCPTransport("127.0.0.1:0", nil, 2, time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	target := raft.ServerAddress(follower.node.RaftAddr())
	header := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("stranger"), Addr: []byte(stranger.LocalAddr())}
	var resp raft.AppendEntriesResponse
	err = stranger.AppendEntries("n1", target, &raft.AppendEntriesRequest{
		RPCHeader: header, Term: term + 100, PrevLogEntry: last, PrevLogTerm: term, LeaderCommitIndex: 1 << 60,
		Entries: []*raft.Log{{Index: last + 1, Term: term + 100, Type: raft.LogCommand, Data: testkit.SetCmd("k", "forged")}},
	}, &resp)
	if err == nil {
		t.Errorf("a forged AppendEntries was answered: %+v", resp)
	}
	for range 50 {
		var tn raft.TimeoutNowResponse
		if stranger.TimeoutNow("n1", target, &raft.TimeoutNowRequest{RPCHeader: header}, &tn) == nil {
			t.Fatal("a TimeoutNow was answered")
		}
	}
	var is raft.InstallSnapshotResponse
	err = stranger.InstallSnapshot("n1", target, &raft.InstallSnapshotRequest{
		RPCHeader: header, SnapshotVersion: raft.SnapshotVersionMax, Term: term + 100, LastLogIndex: last + 1000, Size: 9,
	}, &is, strings.NewReader("not a kv!"))
	if err == nil {
		t.Errorf("a garbage InstallSnapshot was answered: %+v", is)
	}

	if got := follower.node.raft.CurrentTerm(); got != term {
		t.Errorf("term moved from %d to %d", term, got)
	}
	if got, _ := follower.fsm.Get("k"); got != "v" {
		t.Errorf("k=%q after the forgeries", got)
	}
	c.write("still", "serving")
	waitValue(t, syncTimeout, "still", "serving", c.nodes...)
	if !follower.node.Ready() {
		testkit.Eventually(t, syncTimeout, func() error {
			if !follower.node.Ready() {
				return errors.New("the follower is not ready after the forged commit index")
			}
			return nil
		})
	}
}

// TestKeyRotationKeepsServing: a new key is added, made primary, and the old one dropped,
// one node restarted at a time, with writes acknowledged after every restart.
func TestKeyRotationKeepsServing(t *testing.T) {
	t.Parallel()
	old, next := mustKey(t), mustKey(t)
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.Keys = [][]byte{old} })
	c.waitLeader(formTimeout)
	writes := 0
	write := func(step string) {
		t.Helper()
		c.waitLeader(failoverTimeout)
		key := fmt.Sprint("w", writes)
		writes++
		c.write(key, step)
		waitValue(t, syncTimeout, key, step, c.running()...)
	}
	for _, step := range []struct {
		name string
		keys [][]byte
	}{
		{"install the new key", [][]byte{old, next}},
		{"make it primary", [][]byte{next, old}},
		{"drop the old key", [][]byte{next}},
	} {
		for _, tn := range c.nodes {
			c.kill(tn)
			write(step.name + ", " + tn.id + " down")
			tn.cfg.Keys = step.keys
			c.start(tn)
			write(step.name + ", " + tn.id + " back")
		}
	}
	// Only the new key works now: a node with the old one alone is no member.
	for _, tn := range c.nodes {
		if !slices.EqualFunc(tn.cfg.Keys, [][]byte{next}, func(a, b []byte) bool { return string(a) == string(b) }) {
			t.Fatalf("%s runs with %d keys", tn.id, len(tn.cfg.Keys))
		}
	}
	c.waitLeader(failoverTimeout)
}
