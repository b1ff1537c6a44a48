package alerting

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coal-mine/coal-mine/deploy/testkit"
	"github.com/coal-mine/coal-mine/fsm"
)

func subjectsOf(msgs []Message) string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Subject)
	}
	return strings.Join(out, "|")
}

// flippingMember is node2 of a two-voter cluster, down or up as a test sets it.
type flippingMember struct {
	mu sync.Mutex
	up bool
}

func (m *flippingMember) set(up bool) {
	m.mu.Lock()
	m.up = up
	m.mu.Unlock()
}

// watched makes the service watch node1 (always up) and m, reporting after 30 s down.
func (m *flippingMember) watched(c *Config) {
	c.MemberDownAfter = 30 * time.Second
	c.Members = func() []Member {
		m.mu.Lock()
		defer m.mu.Unlock()
		return []Member{{ID: "node1", Up: true}, {ID: "node2", Up: m.up}}
	}
}

// TestMemberDownAndBackAreReportedOnce: a voter unreachable for MemberDownAfter is
// reported to the admins once, and so is its return.
func TestMemberDownAndBackAreReportedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		node2 := &flippingMember{up: true}
		n := startNode(t, withAdmin, node2.watched)
		lead(t, n)
		node2.set(false)
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if len(n.notify.messages()) != 0 {
			t.Fatalf("reported before MemberDownAfter: %s", subjectsOf(n.notify.messages()))
		}
		testkit.Until(t, 30*time.Second, "member down mail", func() bool { return len(n.notify.messages()) == 1 })
		time.Sleep(time.Minute)
		node2.set(true)
		testkit.Until(t, 30*time.Second, "member up mail", func() bool { return len(n.notify.messages()) == 2 })
		got := subjectsOf(n.notify.messages())
		if !strings.HasPrefix(got, "[MEMBER DOWN] coal-mine node node2 unreachable since ") || !strings.HasSuffix(got, "|[MEMBER UP] coal-mine node node2 is back") {
			t.Fatalf("mails: %s", got)
		}
	})
}

// TestANewLeaderDoesNotReportADownMemberAgain: which voters were reported down is
// replicated, so a leader that takes over (here the same service in a new term, on the
// same state) reports only the voter's return.
func TestANewLeaderDoesNotReportADownMemberAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		node2 := &flippingMember{}
		n := startNode(t, withAdmin, node2.watched)
		lead(t, n)
		testkit.Until(t, 2*time.Minute, "member down mail", func() bool { return len(n.notify.messages()) == 1 })
		n.svc.Revoke()
		lead(t, n)
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		if got := subjectsOf(n.notify.messages()); strings.Count(got, "[MEMBER DOWN]") != 1 {
			t.Fatalf("after a new term: %s", got)
		}
		node2.set(true)
		testkit.Until(t, 30*time.Second, "member up mail", func() bool { return len(n.notify.messages()) == 2 })
		if got := subjectsOf(n.notify.messages()); !strings.HasSuffix(got, "|[MEMBER UP] coal-mine node node2 is back") {
			t.Fatalf("mails: %s", got)
		}
	})
}

// TestNotificationsFailingAreReported: mail to a canary's address failing for
// FailingAfter makes one admin event.
func TestNotificationsFailingAreReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t, withAdmin, func(c *Config) { c.FailingAfter = 30 * time.Second })
		n.notify.setFail(func(m Message) error {
			if m.To[0] == "ops@example.org" {
				return errors.New("451 try again later")
			}
			return nil
		})
		lead(t, n)
		n.create(t, "Backup", time.Second, "ops@example.org")
		testkit.Until(t, 2*time.Minute, "the failing report", func() bool {
			return strings.Contains(subjectsOf(n.notify.messages()), "[NOTIFICATIONS FAILING] coal-mine cannot deliver to e-mail since ")
		})
		time.Sleep(time.Minute)
		synctest.Wait()
		if c := strings.Count(subjectsOf(n.notify.messages()), "[NOTIFICATIONS FAILING]"); c != 1 {
			t.Fatalf("%d reports: %s", c, subjectsOf(n.notify.messages()))
		}
	})
}

// TestAStuckDispatcherHandsLeadershipOver: a send that never returns (ignoring its
// context) holds the dispatcher; after DispatcherStuckAfter the leader says so to the
// admins and hands leadership over, once.
func TestAStuckDispatcherHandsLeadershipOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		block := make(chan struct{})
		var mu sync.Mutex
		handOvers := 0
		n := startNode(t, withAdmin, func(c *Config) {
			c.DispatcherStuckAfter = 30 * time.Second
			c.HandOver = func(context.Context) error { mu.Lock(); handOvers++; mu.Unlock(); return nil }
		})
		defer close(block)
		n.notify.setFail(func(Message) error { <-block; return nil })
		lead(t, n)
		n.create(t, "Backup", time.Second, "ops@example.org")
		testkit.Until(t, 2*time.Minute, "the hand-over", func() bool { mu.Lock(); defer mu.Unlock(); return handOvers == 1 })
		time.Sleep(time.Minute)
		mu.Lock()
		defer mu.Unlock()
		if handOvers != 1 {
			t.Fatalf("%d hand-overs", handOvers)
		}
		got := n.prop.committed(fsm.TypeAdminEvent)
		if len(got) != 1 || got[0].AdminEvent.Kind != fsm.KindLeaderStuck || got[0].AdminEvent.Subject != "the dispatcher" {
			t.Fatalf("admin events %+v", got)
		}
	})
}
