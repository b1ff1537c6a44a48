package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/cluster/faultnet"
	"github.com/hashicorp/memberlist"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

func newTestLog(t testing.TB) *testkit.Buffer { return testkit.TestLog(t) }

func loggerTo(l *testkit.Buffer) *slog.Logger { return testkit.Logger(l) }

func newTestLogger(t testing.TB) *slog.Logger { return loggerTo(newTestLog(t)) }

// fastGossip makes failure detection take about a second instead of five,
// to keep the suite short. Raft keeps its production timings.
func fastGossip(c *memberlist.Config) {
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.GossipInterval = 50 * time.Millisecond
	c.SuspicionMult = 2
	c.TCPTimeout = time.Second
	c.PushPullInterval = 5 * time.Second
}

// testCluster is a set of real nodes on loopback with a fault-injecting
// network between them.
type testCluster struct {
	t      testing.TB
	net    *faultnet.Network
	log    *testkit.Buffer
	logger *slog.Logger
	nodes  []*testNode
	// applyDelay slows every Apply of the nodes started from now on.
	applyDelay time.Duration
}

type testNode struct {
	id   string
	cfg  Config
	fsm  *testkit.KV
	node *Node // nil while stopped
}

// newTestCluster starts size nodes that bootstrap together.
func newTestCluster(t testing.TB, size int, tweak func(*Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, net: faultnet.New(), log: newTestLog(t)}
	c.logger = loggerTo(c.log)
	t.Cleanup(c.shutdownAll)
	var join []string
	for i := range size {
		id := fmt.Sprintf("n%d", i+1)
		cfg := Config{
			NodeID:              id,
			DataDir:             t.TempDir(),
			RaftAddr:            "127.0.0.1:0",
			GossipAddr:          "127.0.0.1:0",
			HTTPAddr:            fmt.Sprintf("%s.test:8080", id),
			Join:                append([]string(nil), join...),
			BootstrapExpect:     size,
			Version:             "test",
			Logger:              c.logger,
			WrapRaftStream:      c.net.WrapRaftStream,
			WrapGossipTransport: c.net.WrapGossipTransport,
			TuneGossip:          fastGossip,
		}
		if tweak != nil {
			tweak(&cfg)
		}
		tn := &testNode{id: id, cfg: cfg}
		c.nodes = append(c.nodes, tn)
		c.start(tn)
		join = append(join, tn.node.GossipAddr())
	}
	return c
}

// start (re)starts a node on its data dir; after the first start it keeps
// the addresses it was given, and joins every other node (as a deployment
// that lists all its peers in --join does).
func (c *testCluster) start(tn *testNode) {
	c.t.Helper()
	if tn.cfg.GossipAddr != "127.0.0.1:0" {
		tn.cfg.Join = nil
		for _, other := range c.nodes {
			if other != tn {
				tn.cfg.Join = append(tn.cfg.Join, other.cfg.GossipAddr)
			}
		}
	}
	tn.fsm = testkit.NewKV()
	tn.fsm.Delay = c.applyDelay
	n, err := New(context.Background(), tn.cfg, tn.fsm)
	if err != nil {
		c.t.Fatalf("start %s: %v", tn.id, err)
	}
	tn.node = n
	tn.cfg.RaftAddr = n.RaftAddr()
	tn.cfg.GossipAddr = n.GossipAddr()
}

// kill stops a node hard, as a crash would (no Leave).
func (c *testCluster) kill(tn *testNode) {
	c.t.Helper()
	if err := tn.node.Shutdown(); err != nil {
		c.t.Errorf("shutdown %s: %v", tn.id, err)
	}
	tn.node = nil
}

func (c *testCluster) shutdownAll() {
	for _, tn := range c.nodes {
		if tn.node != nil {
			tn.node.Shutdown()
			tn.node = nil
		}
	}
}

func (c *testCluster) running() []*testNode {
	var out []*testNode
	for _, tn := range c.nodes {
		if tn.node != nil {
			out = append(out, tn)
		}
	}
	return out
}

// waitLeader waits until the given nodes (default: all running) agree on
// one leader among them, and returns it.
func (c *testCluster) waitLeader(timeout time.Duration, among ...*testNode) *testNode {
	c.t.Helper()
	if len(among) == 0 {
		among = c.running()
	}
	var leader *testNode
	testkit.Eventually(c.t, timeout, func() error {
		leader = nil
		for _, tn := range among {
			if tn.node.IsLeader() {
				if leader != nil {
					return fmt.Errorf("two leaders: %s and %s", leader.id, tn.id)
				}
				leader = tn
			}
		}
		if leader == nil {
			return errors.New("no leader")
		}
		for _, tn := range among {
			if got := tn.node.LeaderID(); got != leader.id {
				return fmt.Errorf("%s thinks the leader is %q, not %s", tn.id, got, leader.id)
			}
		}
		return nil
	})
	return leader
}

func (c *testCluster) followers(leader *testNode) []*testNode {
	var out []*testNode
	for _, tn := range c.running() {
		if tn != leader {
			out = append(out, tn)
		}
	}
	return out
}

// waitValue waits until every given node's FSM has key=value.
func waitValue(t testing.TB, timeout time.Duration, key, value string, nodes ...*testNode) {
	t.Helper()
	testkit.Eventually(t, timeout, func() error {
		for _, tn := range nodes {
			if got, _ := tn.fsm.Get(key); got != value {
				return fmt.Errorf("%s has %s=%q, want %q", tn.id, key, got, value)
			}
		}
		return nil
	})
}

// voters returns the ids of the voters in a node's Raft configuration.
func voters(t testing.TB, n *Node) []string {
	t.Helper()
	var ids []string
	for _, m := range n.Status().Members {
		if m.Voter {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// write sets key=value through whichever node leads, following leadership through the
// elections a loaded machine can cause (a set is idempotent, so one that may have been
// applied is simply sent again).
func (c *testCluster) write(key, value string) {
	c.t.Helper()
	testkit.Eventually(c.t, 30*time.Second, func() error {
		for _, tn := range c.running() {
			if tn.node.IsLeader() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, err := tn.node.Apply(ctx, testkit.SetCmd(key, value))
				return err
			}
		}
		return errors.New("no node leads")
	})
}

func apply(t testing.TB, n *Node, key, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := n.Apply(ctx, testkit.SetCmd(key, value)); err != nil {
		t.Fatalf("apply %s=%s: %v", key, value, err)
	}
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
