package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

// A restarted follower must not report ready while it still has committed entries to
// receive or to apply: a load balancer would send it reads it answers from the past.
func TestRestartedFollowerIsReadyOnlyOnceCaughtUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		before, after int           // entries applied before the kill and while it is down
		applyDelay    time.Duration // per entry, on the restarted follower
	}{
		// Seconds of work queued in its FSM once the leader tells it the commit index.
		{"a slow state machine", 200, 200, 5 * time.Millisecond},
		// Many batches still to receive: after the first, its own commit index (capped
		// at its last entry) looks up to date.
		{"far behind the leader", 10, 3000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCluster(t, 3, nil)
			leader := c.waitLeader(10 * time.Second)
			follower := c.followers(leader)[0]

			for i := range tt.before {
				c.write(fmt.Sprintf("k%d", i), "v")
			}
			waitValue(t, 10*time.Second, fmt.Sprintf("k%d", tt.before-1), "v", follower)
			c.kill(follower)
			for i := range tt.after {
				c.write(fmt.Sprintf("k%d", tt.before+i), "v")
			}

			c.applyDelay = tt.applyDelay
			c.start(follower)
			select {
			case <-follower.node.CaughtUp():
			case <-time.After(30 * time.Second):
				t.Fatal("the restarted follower never caught up")
			}
			if !follower.node.Ready() {
				t.Error("caught up but not ready")
			}
			for i := range tt.before + tt.after {
				if _, ok := follower.fsm.Get(fmt.Sprintf("k%d", i)); !ok {
					t.Fatalf("caught up while k%d (of %d committed entries) is not applied", i, tt.before+tt.after)
				}
			}
		})
	}
}

// TestConsistentReadOnANewLeaderSeesEveryAcknowledgedWrite: a follower elected while its
// state machine still has committed entries queued must not confirm a consistent read
// (VerifyLeader) until it has applied them: raft's own VerifyLeader only confirms the
// leadership, and a read served then went back in time.
func TestConsistentReadOnANewLeaderSeesEveryAcknowledgedWrite(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	old := c.waitLeader(formTimeout)
	// The followers' state machines take 20 ms per entry: 300 entries queue 6 s of work,
	// longer than an election takes.
	c.applyDelay = 20 * time.Millisecond
	for _, f := range c.followers(old) {
		c.kill(f)
		c.start(f)
	}
	c.waitLeader(formTimeout)
	if !old.node.IsLeader() {
		t.Skip("leadership moved while the followers restarted")
	}
	const writes = 300
	var wg sync.WaitGroup
	for w := range 10 {
		wg.Go(func() {
			for i := w; i < writes; i += 10 {
				apply(t, old.node, fmt.Sprintf("k%d", i), "v")
			}
		})
	}
	wg.Wait()
	c.kill(old)

	var leader *testNode
	testkit.Eventually(t, failoverTimeout, func() error {
		for _, tn := range c.running() {
			if tn.node.IsLeader() {
				leader = tn
				return nil
			}
		}
		return errors.New("no new leader")
	})
	if err := leader.node.VerifyLeader(ctxTimeout(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	for i := range writes {
		if _, ok := leader.fsm.Get(fmt.Sprintf("k%d", i)); !ok {
			t.Fatalf("a consistent read on the new leader lacks k%d, acknowledged before the election", i)
		}
	}
}

// TestLoadedNodesStayReady: under a steady stream of writes the commit index is always a
// little ahead of what the state machine has applied; that is no reason to fail a
// readiness probe (a loaded leader failed 2.5% of them).
func TestLoadedNodesStayReady(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	leader := c.waitLeader(formTimeout)
	testkit.Eventually(t, syncTimeout, func() error {
		for _, tn := range c.nodes {
			if !tn.node.Ready() {
				return errors.New(tn.id + " is not ready")
			}
		}
		return nil
	})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				leader.node.Apply(ctx, testkit.SetCmd(fmt.Sprintf("w%d-%d", w, i), "v"))
				cancel()
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	probes := time.NewTicker(5 * time.Millisecond)
	defer probes.Stop()
	for probe := range 600 {
		<-probes.C
		for _, tn := range c.nodes {
			if !tn.node.Ready() {
				t.Fatalf("probe %d: %s (leader %s) not ready under load", probe, tn.id, leader.id)
			}
		}
	}
}
