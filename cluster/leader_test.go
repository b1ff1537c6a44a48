package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

// recordingSubsystem is a leader subsystem that records what the leader loop does with
// it, in one log shared by the subsystems of a node.
type recordingSubsystem struct {
	name string
	log  *eventLog
	fail error // Establish fails with it
}

type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(e string) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

func (s *recordingSubsystem) Establish(ctx context.Context) error {
	if s.fail != nil {
		s.log.add("fail " + s.name)
		return s.fail
	}
	s.log.add("establish " + s.name)
	return nil
}

func (s *recordingSubsystem) Revoke() { s.log.add("revoke " + s.name) }

// TestLeaderSubsystemsFollowLeadership: the leader loop establishes the subsystems in
// order once the term is established, a late one at once, and revokes them newest first
// when leadership moves; the new leader establishes its own.
func TestLeaderSubsystemsFollowLeadership(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	logs := map[string]*eventLog{}
	for _, tn := range c.nodes {
		logs[tn.id] = &eventLog{}
		for _, name := range []string{"a", "b"} {
			tn.node.AddLeaderSubsystem(&recordingSubsystem{name: name, log: logs[tn.id]})
		}
	}
	leader := c.waitLeader(formTimeout)
	testkit.Eventually(t, syncTimeout, func() error {
		if got := logs[leader.id].get(); !slices.Equal(got, []string{"establish a", "establish b"}) {
			return fmt.Errorf("leader %s: %v", leader.id, got)
		}
		return nil
	})
	leader.node.AddLeaderSubsystem(&recordingSubsystem{name: "late", log: logs[leader.id]})
	testkit.Eventually(t, syncTimeout, func() error {
		if got := logs[leader.id].get(); len(got) != 3 || got[2] != "establish late" {
			return fmt.Errorf("after a late add: %v", got)
		}
		return nil
	})
	for _, f := range c.followers(leader) {
		if got := logs[f.id].get(); len(got) != 0 {
			t.Errorf("follower %s: %v", f.id, got)
		}
	}

	if err := leader.node.TransferLeadership(ctxTimeout(t, failoverTimeout), ""); err != nil {
		t.Fatal(err)
	}
	next := c.waitLeader(failoverTimeout)
	testkit.Eventually(t, syncTimeout, func() error {
		want := []string{"establish a", "establish b", "establish late", "revoke late", "revoke b", "revoke a"}
		if got := logs[leader.id].get(); !slices.Equal(got, want) {
			return fmt.Errorf("old leader: %v, want %v", got, want)
		}
		if got := logs[next.id].get(); !slices.Equal(got, []string{"establish a", "establish b"}) {
			return fmt.Errorf("new leader %s: %v", next.id, got)
		}
		return nil
	})
}

// TestLeaderThatCannotEstablishHandsOver: a leader whose subsystem cannot be established
// revokes those that were, and hands leadership to a node that can establish them.
func TestLeaderThatCannotEstablishHandsOver(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 3, nil)
	first := c.waitLeader(formTimeout)
	logs := map[string]*eventLog{}
	for _, tn := range c.nodes {
		logs[tn.id] = &eventLog{}
		var fail error
		if tn == first {
			fail = errors.New("broken")
		}
		tn.node.AddLeaderSubsystem(&recordingSubsystem{name: "ok", log: logs[tn.id]})
		tn.node.AddLeaderSubsystem(&recordingSubsystem{name: "picky", log: logs[tn.id], fail: fail})
	}
	testkit.Eventually(t, failoverTimeout, func() error {
		if first.node.IsLeader() {
			return fmt.Errorf("%s still leads: %v", first.id, logs[first.id].get())
		}
		return nil
	})
	next := c.waitLeader(failoverTimeout)
	if got := logs[first.id].get(); len(got) < 3 || got[0] != "establish ok" || got[1] != "fail picky" || got[2] != "revoke ok" {
		t.Errorf("the failing leader: %v", got)
	}
	testkit.Eventually(t, syncTimeout, func() error {
		if got := logs[next.id].get(); !slices.Equal(got, []string{"establish ok", "establish picky"}) {
			return fmt.Errorf("the next leader %s: %v", next.id, got)
		}
		return nil
	})
}
