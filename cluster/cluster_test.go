package cluster

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

const (
	formTimeout     = 20 * time.Second
	failoverTimeout = 15 * time.Second
	syncTimeout     = 10 * time.Second
)

func TestThreeNodesFormOneCluster(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	leader := c.waitLeader(formTimeout)

	testkit.Eventually(t, syncTimeout, func() error {
		for _, tn := range c.nodes {
			if got := voters(t, tn.node); !slices.Equal(got, []string{"n1", "n2", "n3"}) {
				return errors.New(tn.id + " voters: " + join(got))
			}
		}
		return nil
	})

	c.write("k", "v")
	waitValue(t, syncTimeout, "k", "v", c.nodes...)

	for _, f := range c.followers(leader) {
		_, err := f.node.Apply(ctxTimeout(t, time.Second), testkit.SetCmd("x", "y"))
		if !errors.Is(err, ErrNotLeader) {
			t.Errorf("Apply on follower %s: %v, want ErrNotLeader", f.id, err)
		}
		if got := f.node.LeaderHTTPAddr(); got != leader.cfg.HTTPAddr {
			t.Errorf("%s: LeaderHTTPAddr = %q, want %q", f.id, got, leader.cfg.HTTPAddr)
		}
		if err := f.node.VerifyLeader(context.Background()); !errors.Is(err, ErrNotLeader) {
			t.Errorf("VerifyLeader on follower: %v", err)
		}
	}

	testkit.Eventually(t, syncTimeout, func() error {
		for _, tn := range c.nodes {
			st := tn.node.Status()
			if !st.Ready {
				return errors.New(tn.id + " not ready")
			}
			for _, m := range st.Members {
				if m.GossipState != "alive" || m.RaftAddr == "" || m.HTTPAddr == "" || m.GossipAddr == "" || m.Version != "test" {
					return errors.New(tn.id + " sees incomplete member " + m.ID)
				}
				if m.Leader != (m.ID == leader.id) {
					return errors.New(tn.id + " has the wrong leader flag on " + m.ID)
				}
			}
		}
		return nil
	})
}

func TestMoreNodesThanExpectFormOneCluster(t *testing.T) {
	t.Parallel()
	// Four nodes all expecting three: still one cluster, the fourth added.
	c := newTestCluster(t, 4, func(cfg *Config) { cfg.BootstrapExpect = 3 })
	c.waitLeader(formTimeout)
	testkit.Eventually(t, formTimeout, func() error {
		for _, tn := range c.nodes {
			if got := voters(t, tn.node); len(got) != 4 {
				return errors.New(tn.id + " voters: " + join(got))
			}
		}
		return nil
	})
}

func TestLeaderKillFailover(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	old := c.waitLeader(formTimeout)
	apply(t, old.node, "before", "1")
	waitValue(t, syncTimeout, "before", "1", c.nodes...)

	killed := time.Now()
	c.kill(old)
	leader := c.waitLeader(failoverTimeout)
	t.Logf("failover: new leader %s %v after the leader was killed", leader.id, time.Since(killed).Round(time.Millisecond))
	if leader == old {
		t.Fatal("dead node still leader")
	}
	// A failed server stays a voter: two of three are a quorum.
	if got := voters(t, leader.node); len(got) != 3 {
		t.Errorf("voters after the kill: %v, want all three", got)
	}
	c.write("after", "2")

	// Restarted on its data dir, the old leader rejoins as itself.
	c.start(old)
	waitValue(t, syncTimeout, "after", "2", c.nodes...)
	waitValue(t, syncTimeout, "before", "1", old)
	if got := voters(t, leader.node); len(got) != 3 {
		t.Errorf("voters after the restart: %v", got)
	}
}

func TestFiveNodesSurviveTwoLeaderLosses(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 5, nil)
	for round := 1; round <= 2; round++ {
		leader := c.waitLeader(formTimeout)
		killed := time.Now()
		c.kill(leader)
		next := c.waitLeader(failoverTimeout)
		t.Logf("failover %d: new leader %s %v after the leader was killed", round, next.id, time.Since(killed).Round(time.Millisecond))
	}
	leader := c.waitLeader(failoverTimeout)
	c.write("k", "3-of-5")
	waitValue(t, syncTimeout, "k", "3-of-5", c.running()...)
	if got := voters(t, leader.node); len(got) != 5 {
		t.Errorf("voters: %v, want five (failed servers stay)", got)
	}
}

func TestGracefulLeave(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	leader := c.waitLeader(formTimeout)

	follower := c.followers(leader)[0]
	if err := follower.node.Leave(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("follower leave: %v", err)
	}
	c.kill(follower)
	testkit.Eventually(t, syncTimeout, func() error {
		if got := voters(t, leader.node); len(got) != 2 || slices.Contains(got, follower.id) {
			return errors.New("voters: " + join(got))
		}
		return nil
	})

	// The leader hands over before it goes.
	if err := leader.node.Leave(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("leader leave: %v", err)
	}
	c.kill(leader)
	last := c.running()[0]
	c.waitLeader(failoverTimeout, last)
	testkit.Eventually(t, syncTimeout, func() error {
		if got := voters(t, last.node); !slices.Equal(got, []string{last.id}) {
			return errors.New("voters: " + join(got))
		}
		return nil
	})
	apply(t, last.node, "alone", "ok")
}

func TestLeftNodeRejoinsWhenRestarted(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	leader := c.waitLeader(formTimeout)
	gone := c.followers(leader)[0]
	if err := gone.node.Leave(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("leave: %v", err)
	}
	c.kill(gone)
	c.write("while-away", "1")

	c.start(gone)
	testkit.Eventually(t, formTimeout, func() error {
		if got := voters(t, leader.node); len(got) != 3 {
			return errors.New("voters: " + join(got))
		}
		return nil
	})
	waitValue(t, syncTimeout, "while-away", "1", gone)
	testkit.Eventually(t, syncTimeout, func() error {
		for _, m := range leader.node.Status().Members {
			if m.GossipState != "alive" {
				return errors.New(m.ID + " is " + m.GossipState)
			}
		}
		return nil
	})
}

// TestPartitionedLeaderCannotCommitAndCatchesUp also restarts the deposed leader after
// it has cleared the uncommitted suffix of its log: raft-wal v0.4.0 left such a log
// unreadable, and the node panicked at every start from then on (raft-wal#31).
func TestPartitionedLeaderCannotCommitAndCatchesUp(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	old := c.waitLeader(formTimeout)
	majority := c.followers(old)

	c.net.Partition([]string{old.id}, []string{majority[0].id, majority[1].id})

	// The isolated leader cannot reach a quorum: its write must fail.
	_, err := old.node.Apply(ctxTimeout(t, 5*time.Second), testkit.SetCmd("minority", "lost"))
	if err == nil {
		t.Fatal("a write on the minority side was acknowledged")
	}
	t.Logf("minority write failed as it should: %v", err)

	leader := c.waitLeader(failoverTimeout, majority...)
	apply(t, leader.node, "majority", "kept")
	waitValue(t, syncTimeout, "majority", "kept", majority...)
	if _, ok := old.fsm.Get("majority"); ok {
		t.Error("the partitioned node saw a write across the partition")
	}

	c.net.Heal()
	waitValue(t, 2*syncTimeout, "majority", "kept", c.nodes...)
	c.waitLeader(failoverTimeout)
	for _, tn := range c.nodes {
		if _, ok := tn.fsm.Get("minority"); ok {
			t.Errorf("%s applied the write that was never committed", tn.id)
		}
	}
	// Gossip merges back too.
	testkit.Eventually(t, 2*syncTimeout, func() error {
		for _, tn := range c.nodes {
			for _, m := range tn.node.Status().Members {
				if m.GossipState != "alive" {
					return errors.New(tn.id + " sees " + m.ID + " " + m.GossipState)
				}
			}
		}
		return nil
	})

	if !c.log.Contains("clearing log suffix") {
		t.Fatal("the deposed leader never cleared its log suffix: the restart below tests nothing")
	}
	c.kill(old)
	c.start(old)
	leader = c.waitLeader(failoverTimeout)
	c.write("after-restart", "x")
	waitValue(t, syncTimeout, "after-restart", "x", c.nodes...)
	waitValue(t, syncTimeout, "majority", "kept", old)
}

func TestPartitionedFollowerCatchesUp(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	leader := c.waitLeader(formTimeout)
	cutOff := c.followers(leader)[0]
	var majority []string
	for _, tn := range c.nodes {
		if tn != cutOff {
			majority = append(majority, tn.id)
		}
	}
	c.net.Partition([]string{cutOff.id}, majority)

	c.write("while-cut", "1")
	if _, err := cutOff.node.Apply(ctxTimeout(t, time.Second), testkit.SetCmd("x", "y")); err == nil {
		t.Error("the cut-off follower accepted a write")
	}
	time.Sleep(3 * time.Second) // several election timeouts
	if _, ok := cutOff.fsm.Get("while-cut"); ok {
		t.Fatal("write crossed the partition")
	}
	if cutOff.node.IsLeader() {
		t.Fatal("a lone follower made itself leader")
	}

	c.net.Heal()
	waitValue(t, syncTimeout, "while-cut", "1", c.nodes...)
	if got := c.waitLeader(failoverTimeout); got != leader {
		// Pre-vote keeps the rejoining follower from deposing the leader.
		t.Logf("leader changed after heal: %s -> %s", leader.id, got.id)
	}
}

func TestTransferLeadershipAndRemovePeer(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	leader := c.waitLeader(formTimeout)
	target := c.followers(leader)[0]

	// Asked of a follower, the leader does it: to itself is no transfer.
	if err := target.node.TransferLeadership(ctxTimeout(t, 5*time.Second), leader.id); !errors.Is(err, ErrUnknownPeer) {
		t.Errorf("transfer from a follower to the leader itself: %v, want ErrUnknownPeer", err)
	}
	if err := leader.node.TransferLeadership(ctxTimeout(t, 5*time.Second), "nobody"); !errors.Is(err, ErrUnknownPeer) {
		t.Errorf("transfer to an unknown id: %v, want ErrUnknownPeer", err)
	}
	if err := leader.node.TransferLeadership(ctxTimeout(t, 10*time.Second), target.id); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	if got := c.waitLeader(failoverTimeout); got != target {
		t.Fatalf("leader after transfer is %s, want %s", got.id, target.id)
	}
	leader = target

	victim := c.followers(leader)[0]
	if err := leader.node.RemovePeer(ctxTimeout(t, 5*time.Second), victim.id); !errors.Is(err, ErrPeerAlive) {
		t.Errorf("removing a live peer: %v, want ErrPeerAlive", err)
	}
	if err := leader.node.RemovePeer(ctxTimeout(t, 5*time.Second), "nobody"); !errors.Is(err, ErrUnknownPeer) {
		t.Errorf("removing an unknown peer: %v, want ErrUnknownPeer", err)
	}
	c.kill(victim)
	testkit.Eventually(t, syncTimeout, func() error {
		if m, ok := leader.node.members.get(victim.id); !ok || m.State != gossipDead {
			return errors.New("killed node not yet seen as failed")
		}
		return nil
	})
	// Asked of a follower, the leader removes it.
	other := c.followers(leader)[0]
	if err := other.node.RemovePeer(ctxTimeout(t, 5*time.Second), victim.id); err != nil {
		t.Fatalf("remove failed peer through a follower: %v", err)
	}
	if err := leader.node.RemovePeer(ctxTimeout(t, 5*time.Second), victim.id); !errors.Is(err, ErrUnknownPeer) {
		t.Errorf("removing it again: %v, want ErrUnknownPeer", err)
	}
	if got := voters(t, leader.node); len(got) != 2 || slices.Contains(got, victim.id) {
		t.Errorf("voters after remove: %v", got)
	}
}

func TestDeadServerCleanup(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.DeadServerCleanup = time.Second })
	leader := c.waitLeader(formTimeout)
	victim := c.followers(leader)[0]
	c.kill(victim)
	testkit.Eventually(t, 2*syncTimeout, func() error {
		if got := voters(t, leader.node); len(got) != 2 || slices.Contains(got, victim.id) {
			return errors.New("voters: " + join(got))
		}
		return nil
	})
	c.write("k", "v")
}

func join(ids []string) string {
	if len(ids) == 0 {
		return "(none)"
	}
	out := ids[0]
	for _, id := range ids[1:] {
		out += "," + id
	}
	return out
}
