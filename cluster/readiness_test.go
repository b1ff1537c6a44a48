package cluster

import (
	"fmt"
	"testing"
	"time"
)

// A restarted follower must not report ready while its state machine still has
// committed entries to apply: a load balancer would send it reads it answers from the
// past. Its FSM here takes 5 ms an entry, so it has seconds of work queued once the
// leader tells it the commit index.
func TestRestartedFollowerIsReadyOnlyOnceCaughtUp(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	leader := c.waitLeader(10 * time.Second)
	follower := c.followers(leader)[0]

	const before, after = 200, 200
	for i := range before {
		apply(t, leader.node, fmt.Sprintf("k%d", i), "v")
	}
	waitValue(t, 10*time.Second, fmt.Sprintf("k%d", before-1), "v", follower)
	c.kill(follower)
	for i := range after { // entries the follower has never seen
		apply(t, leader.node, fmt.Sprintf("k%d", before+i), "v")
	}

	c.applyDelay = 5 * time.Millisecond
	c.start(follower)
	deadline := time.Now().Add(30 * time.Second)
	for !follower.node.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("the restarted follower never became ready")
		}
		time.Sleep(time.Millisecond)
	}
	for i := range before + after {
		if _, ok := follower.fsm.get(fmt.Sprintf("k%d", i)); !ok {
			t.Fatalf("ready while k%d (of %d committed entries) is not applied", i, before+after)
		}
	}
}
