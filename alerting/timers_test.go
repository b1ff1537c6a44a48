package alerting

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/coal-mine/coal-mine/deploy/testkit"
	"github.com/coal-mine/coal-mine/fsm"
)

// apply runs one command at the bubble's time, as the proposer would stamp it.
func (n *node) apply(t *testing.T, cmd fsm.Command) fsm.Result {
	t.Helper()
	cmd.Version, cmd.At = fsm.CommandVersion, time.Now().UTC().Truncate(time.Microsecond)
	res := n.f.ApplyCommands([]fsm.Command{cmd})[0]
	if res.Err != nil {
		t.Fatalf("%s: %v", cmd.Type, res.Err)
	}
	return res
}

func TestTimedPauseEndsOnceAtItsTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t)
		lead(t, n)
		id := n.create(t, "Maintenance", time.Hour)
		until := time.Now().UTC().Add(2 * time.Second).Truncate(time.Microsecond)
		n.apply(t, fsm.Command{Type: fsm.TypePause, Pause: &fsm.Pause{ID: id, Until: until}})

		testkit.Until(t, 5*time.Second, "the pause ends", func() bool { return !n.canary(t, id).Paused })
		expired := n.prop.committed(fsm.TypeExpirePause)
		if len(expired) != 1 || !expired[0].At.Equal(until) {
			t.Fatalf("expire-pause commands: %+v", expired)
		}
		if got := n.canary(t, id).NewestFirst()[0].Comment; got != "Unpaused (pause expired)" {
			t.Fatalf("history: %q", got)
		}
		if len(n.prop.committed(fsm.TypeMarkLate)) != 0 {
			t.Fatal("a paused canary was marked late")
		}
	})
}

func TestTimedPauseEndedByHandIsNotEndedAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t)
		lead(t, n)
		id := n.create(t, "Maintenance", time.Hour)
		n.apply(t, fsm.Command{Type: fsm.TypePause, Pause: &fsm.Pause{ID: id, Until: time.Now().Add(2 * time.Second)}})
		time.Sleep(time.Second)
		n.apply(t, fsm.Command{Type: fsm.TypeUnpause, Unpause: &fsm.Unpause{ID: id}})
		time.Sleep(5 * time.Second) // bubble time: past the old until
		synctest.Wait()
		if got := n.prop.committed(fsm.TypeExpirePause); len(got) != 0 {
			t.Fatalf("expire-pause after a manual unpause: %+v", got)
		}
	})
}

func TestMaxRuntimeSendsItsOwnLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t)
		lead(t, n)
		id := n.create(t, "Long job", time.Hour, "ops@example.org")
		max := 2 * time.Second
		n.apply(t, fsm.Command{Type: fsm.TypeUpdate, Update: &fsm.Update{ID: id, Settings: fsm.Settings{MaxRuntime: &max}}})
		n.apply(t, fsm.Command{Type: fsm.TypeSignal, Signal: &fsm.Signal{ID: id, Kind: fsm.SignalStart, ExitStatus: -1}})
		testkit.Until(t, 5*time.Second, "the overrun mail is sent", func() bool { return len(n.notify.messages()) == 1 })
		if got := n.notify.messages()[0].Subject; got != "[LATE] Long job started and has not finished" {
			t.Fatalf("subject = %q", got)
		}
		if d := lateDelays(n.prop); len(d) != 1 || d[0] != 0 {
			t.Fatalf("mark-late delays %v", d)
		}
	})
}

func TestFailureMail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t)
		lead(t, n)
		id := n.create(t, "Backup", time.Hour, "ops@example.org")
		n.apply(t, fsm.Command{Type: fsm.TypeSignal, Signal: &fsm.Signal{ID: id, Kind: fsm.SignalFail, ExitStatus: 3}})
		n.apply(t, fsm.Command{Type: fsm.TypeSignal, Signal: &fsm.Signal{ID: id, Kind: fsm.SignalSuccess, ExitStatus: 0}})
		testkit.Until(t, 5*time.Second, "both mails are sent", func() bool { return len(n.notify.messages()) == 2 })
		msgs := n.notify.messages()
		if msgs[0].Subject != "[FAILED] Backup reported failure (exit status 3)" || msgs[1].Subject != "[RESUMED] Backup is reporting again" {
			t.Fatalf("subjects %q, %q", msgs[0].Subject, msgs[1].Subject)
		}
	})
}
