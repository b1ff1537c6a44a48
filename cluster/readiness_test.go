package cluster

import (
	"fmt"
	"testing"
	"time"
)

// A restarted follower must not report ready while it still has committed entries to
// receive or to apply: a load balancer would send it reads it answers from the past.
func TestRestartedFollowerIsReadyOnlyOnceCaughtUp(t *testing.T) {
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
				apply(t, leader.node, fmt.Sprintf("k%d", i), "v")
			}
			waitValue(t, 10*time.Second, fmt.Sprintf("k%d", tt.before-1), "v", follower)
			c.kill(follower)
			for i := range tt.after {
				apply(t, leader.node, fmt.Sprintf("k%d", tt.before+i), "v")
			}

			c.applyDelay = tt.applyDelay
			c.start(follower)
			deadline := time.Now().Add(30 * time.Second)
			for !follower.node.Ready() {
				if time.Now().After(deadline) {
					t.Fatal("the restarted follower never became ready")
				}
				time.Sleep(time.Millisecond)
			}
			for i := range tt.before + tt.after {
				if _, ok := follower.fsm.get(fmt.Sprintf("k%d", i)); !ok {
					t.Fatalf("ready while k%d (of %d committed entries) is not applied", i, tt.before+tt.after)
				}
			}
		})
	}
}
