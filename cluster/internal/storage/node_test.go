package storage

import (
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/coal-mine/coal-mine/cluster/internal/hclogslog"
	"github.com/coal-mine/coal-mine/deploy/testkit"
)

// testNode is a single-voter Raft server on a Store, started the way a coal-mine node
// starts one: what the tests of a data directory's whole life (write, stop, damage,
// start again, repair) need, without the network.
type testNode struct {
	id    string
	raft  *raft.Raft
	store *Store
}

type nodeOptions struct {
	log  *testkit.Buffer       // where the node logs; nil: the test's log
	tune func(rc *raft.Config) // changes raft's configuration
}

// startNode opens dir and starts Raft on it, bootstrapping a new directory, and waits
// until it leads. It returns what NodeID, Open or raft refused with.
func startNode(t *testing.T, dir string, fsm raft.FSM, opts nodeOptions) (*testNode, error) {
	t.Helper()
	logger := newTestLogger(t)
	if opts.log != nil {
		logger = testkit.Logger(opts.log)
	}
	id, err := NodeID(dir, "")
	if err != nil {
		return nil, err
	}
	s, err := Open(dir, Options{Logger: logger})
	if err != nil {
		return nil, err
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(id)
	rc.Logger = hclogslog.New(logger, "raft")
	rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = 100*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
	if opts.tune != nil {
		opts.tune(rc)
	}
	addr, transport := raft.NewInmemTransport(raft.ServerAddress(id))
	r, err := s.StartRaft(func() (*raft.Raft, error) {
		return raft.NewRaft(rc, fsm, s.Log(), s.Stable(), s.Snapshots(), transport)
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	n := &testNode{id: id, raft: r, store: s}
	if !s.HasState() {
		servers := []raft.Server{{ID: rc.LocalID, Address: addr}}
		if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
			n.shutdown()
			return nil, err
		}
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		if r.State() != raft.Leader {
			return errors.New("the node does not lead yet")
		}
		return nil
	})
	return n, nil
}

func mustStartNode(t *testing.T, dir string, fsm raft.FSM, opts nodeOptions) *testNode {
	t.Helper()
	n, err := startNode(t, dir, fsm, opts)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// apply commits key=value.
func (n *testNode) apply(t testing.TB, key, value string) {
	t.Helper()
	if err := n.raft.Apply(testkit.SetCmd(key, value), 5*time.Second).Error(); err != nil {
		t.Fatalf("apply %s=%s: %v", key, value, err)
	}
}

// shutdown stops Raft, then closes the store, as a node does.
func (n *testNode) shutdown() error {
	return errors.Join(n.raft.Shutdown().Error(), n.store.Close())
}
