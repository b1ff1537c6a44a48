package alerting

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coal-mine/coal-mine/deploy/testkit"
	"github.com/coal-mine/coal-mine/fsm"
)

func withAdmin(c *Config) { c.AdminEmails = []string{"admin@example.org"} }

// TestOutageMovesDeadlinesBeforeTheWatcherSeesThem: a leader taking over after 30 s
// in which nothing could be written moves the deadline that fell in them, sends no
// LATE for it, and tells the admin once.
func TestOutageMovesDeadlinesBeforeTheWatcherSeesThem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t, withAdmin)
		id := n.create(t, "Nightly", 5*time.Second, "ops@example.org")
		created := n.canary(t, id).Deadline
		time.Sleep(30 * time.Second) // the whole cluster is down
		lead(t, n)
		testkit.Until(t, 5*time.Second, "the outage mail is sent", func() bool { return len(n.notify.messages()) == 1 })
		msg := n.notify.messages()[0]
		if !strings.HasPrefix(msg.Subject, "[OUTAGE] coal-mine could not accept triggers from ") || msg.To[0] != "admin@example.org" {
			t.Fatalf("mail %q to %v", msg.Subject, msg.To)
		}
		c := n.canary(t, id)
		if c.Late || !c.Deadline.Equal(created.Add(30*time.Second)) || !strings.HasPrefix(c.NewestFirst()[0].Comment, "Deadline moved: monitor unavailable ") {
			t.Fatalf("canary after the outage: late %v, deadline %v (was %v), %q", c.Late, c.Deadline, created, c.NewestFirst()[0].Comment)
		}
		if got := n.prop.committed(fsm.TypeMarkLate); len(got) != 0 {
			t.Fatalf("mark-late during the outage's bridging: %+v", got)
		}
		// The moved deadline is watched: the canary goes late then, once.
		testkit.Until(t, 10*time.Second, "late at the moved deadline", func() bool { return n.canary(t, id).Late })
	})
}

// TestAShortGapIsNoOutage: a failover's few seconds without writes change nothing.
func TestAShortGapIsNoOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t, withAdmin)
		id := n.create(t, "Nightly", 5*time.Second, "ops@example.org")
		time.Sleep(3 * time.Second)
		lead(t, n)
		testkit.Until(t, 5*time.Second, "late at its deadline", func() bool { return n.canary(t, id).Late })
		if got := n.prop.committed(fsm.TypeOutage); len(got) != 0 {
			t.Fatalf("outage for a short gap: %+v", got)
		}
	})
}

// TestAnIdleLeaderTicks: with nothing else written the leader records, every
// TickEvery, that the cluster accepts writes; a busy one does not need to.
func TestAnIdleLeaderTicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t)
		n.create(t, "Hourly", time.Hour)
		lead(t, n)
		time.Sleep(10*time.Second + time.Millisecond)
		synctest.Wait()
		if got := len(n.prop.committed(fsm.TypeTick)); got < 4 || got > 5 {
			t.Fatalf("%d ticks in 10 s, want one every 2 s", got)
		}
		if now := time.Now(); now.Sub(n.f.Clock()) > DefaultTickEvery {
			t.Fatalf("clock %v behind %v", n.f.Clock(), now)
		}
	})
}

// TestRenotifyMailsUntilTheCanaryIsPaused: [STILL LATE] every interval, none once it
// is paused.
func TestRenotifyMailsUntilTheCanaryIsPaused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t)
		lead(t, n)
		id := n.create(t, "Flaky", time.Second, "ops@example.org")
		every := 2 * time.Second
		n.apply(t, fsm.Command{Type: fsm.TypeUpdate, Update: &fsm.Update{ID: id, Settings: fsm.Settings{Renotify: &every}}})
		testkit.Until(t, 10*time.Second, "LATE and two repeats", func() bool { return len(n.notify.messages()) == 3 })
		n.apply(t, fsm.Command{Type: fsm.TypePause, Pause: &fsm.Pause{ID: id}})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		var subjects []string
		for _, m := range n.notify.messages() {
			subjects = append(subjects, m.Subject)
		}
		want := "[LATE] Flaky has not reported|[STILL LATE] Flaky is still late|[STILL LATE] Flaky is still late"
		if got := strings.Join(subjects, "|"); got != want {
			t.Fatalf("mails:\n%s\nwant\n%s", got, want)
		}
	})
}
