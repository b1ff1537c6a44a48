package alerting

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

func subjectsOf(msgs []Message) string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Subject)
	}
	return strings.Join(out, "|")
}

// TestMemberDownAndBackAreReportedOnce: a voter unreachable for MemberDownAfter is
// reported to the admins once, and so is its return.
func TestMemberDownAndBackAreReportedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		up := true
		members := func() []Member {
			mu.Lock()
			defer mu.Unlock()
			return []Member{{ID: "node1", Up: true}, {ID: "node2", Up: up}}
		}
		n := startNode(t, withAdmin, func(c *Config) { c.Members, c.MemberDownAfter = members, 30*time.Second })
		lead(t, n)
		mu.Lock()
		up = false
		mu.Unlock()
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if len(n.notify.messages()) != 0 {
			t.Fatalf("reported before MemberDownAfter: %s", subjectsOf(n.notify.messages()))
		}
		testkit.Until(t, 30*time.Second, "member down mail", func() bool { return len(n.notify.messages()) == 1 })
		time.Sleep(time.Minute)
		mu.Lock()
		up = true
		mu.Unlock()
		testkit.Until(t, 30*time.Second, "member up mail", func() bool { return len(n.notify.messages()) == 2 })
		got := subjectsOf(n.notify.messages())
		if !strings.HasPrefix(got, "[MEMBER DOWN] coal-mine node node2 unreachable since ") || !strings.HasSuffix(got, "|[MEMBER UP] coal-mine node node2 is back") {
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
