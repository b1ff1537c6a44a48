package alerting

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/raft"

	"github.com/coal-mine/coal-mine/fsm"
	"github.com/coal-mine/coal-mine/fsm/propose"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

func TestWatcherMarksLateAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t)
		lead(t, n)
		id := n.create(t, "Nightly backup", 150*time.Millisecond, "ops@example.org")

		testkit.Until(t, 5*time.Second, "the canary is late", func() bool { return n.canary(t, id).Late })
		testkit.Until(t, 5*time.Second, "the LATE mail is sent and acknowledged", func() bool {
			return len(n.notify.messages()) == 1 && len(n.f.Outbox()) == 0
		})
		msg := n.notify.messages()[0]
		if msg.Subject != "[LATE] Nightly backup has not reported" {
			t.Errorf("subject = %q", msg.Subject)
		}
		delays := lateDelays(n.prop)
		if len(delays) != 1 {
			t.Fatalf("%d mark-late commands, want 1", len(delays))
		}
		// Time is the bubble's: nothing but the watcher's timer decides when it acts.
		if delays[0] != 0 {
			t.Errorf("mark-late stamped %v after the deadline, want at it", delays[0])
		}
	})
}

// The observer only queues what it hears; the watcher takes it in. A deadline moved
// earlier than the watcher's timer must still wake it, and a burst of changes must not
// wait in the queue for the next deadline.
func TestDeadlineMovedEarlierWakesTheWatcher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t)
		lead(t, n)
		id := n.create(t, "Hourly", time.Hour, "ops@example.org")
		other := n.create(t, "Busy", time.Hour)
		synctest.Wait() // the watcher is armed for the hour

		for range 1000 {
			n.trigger(t, other)
		}
		testkit.Until(t, time.Second, "the watcher takes the changes in", func() bool {
			n.svc.changesMu.Lock()
			defer n.svc.changesMu.Unlock()
			return len(n.svc.changes) == 0
		})

		n.apply(t, fsm.Command{Type: fsm.TypeUpdate, Update: &fsm.Update{ID: id, Periodicity: &fsm.Periodicity{Seconds: 0.2}}})
		moved := n.canary(t, id).Deadline
		testkit.Until(t, 5*time.Second, "the canary is late at its new deadline", func() bool { return n.canary(t, id).Late })
		delays := lateDelays(n.prop)
		if len(delays) != 1 || delays[0] != 0 {
			t.Fatalf("mark-late delays %v, want one, at the deadline %v", delays, moved)
		}
		if n.canary(t, other).Late {
			t.Error("the busy canary went late")
		}
	})
}

func TestTriggerRacingMarkLateGivesNoLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t)
		lead(t, n)
		var raced atomic.Bool
		var newDeadline time.Time
		n.prop.setHook(func(_ context.Context, cmd *fsm.Command) error {
			if cmd.Type == fsm.TypeMarkLate && raced.CompareAndSwap(false, true) {
				// The trigger commits between the watcher's decision and the mark-late.
				res := n.f.ApplyCommands([]fsm.Command{{Type: fsm.TypeTrigger, Version: fsm.CommandVersion,
					At: time.Now().UTC().Truncate(time.Microsecond), Trigger: &fsm.Trigger{ID: cmd.MarkLate.ID}}})
				newDeadline = res[0].Canary.Deadline
			}
			return nil
		})
		id := n.create(t, "Racy", 100*time.Millisecond, "ops@example.org")

		testkit.Until(t, 5*time.Second, "the first mark-late is committed", func() bool {
			return len(n.prop.committed(fsm.TypeMarkLate)) >= 1
		})
		// The race: the canary was triggered, so the first mark-late changed nothing.
		first := n.prop.committed(fsm.TypeMarkLate)[0]
		if c := n.canary(t, id); c.Late && c.Deadline.Equal(first.MarkLate.Deadline) {
			t.Fatal("a mark-late that lost the race to a trigger made the canary late")
		}
		// It goes late once, at the deadline the trigger set.
		testkit.Until(t, 5*time.Second, "the canary is late at its new deadline", func() bool {
			return len(n.notify.messages()) == 1 && len(n.f.Outbox()) == 0
		})
		msgs := n.notify.messages()
		if !strings.Contains(msgs[0].Body, "expected to report before "+pythonTime(newDeadline)) {
			t.Errorf("LATE mail names the wrong deadline (want %v):\n%s", newDeadline, msgs[0].Body)
		}
	})
}

func TestLeadershipLostStopsWatcherAndRegainedCatchesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t)
		lead(t, n)

		// A mark-late hangs in a commit that cannot finish.
		n.prop.setHook(func(ctx context.Context, cmd *fsm.Command) error {
			if cmd.Type == fsm.TypeMarkLate {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		})
		first := n.create(t, "first", time.Millisecond)
		testkit.Until(t, 5*time.Second, "the mark-late is in flight", func() bool { return n.prop.inflight.Load() == 1 })

		n.svc.Revoke() // returns once the watcher and the dispatcher have stopped
		if n.svc.Active() {
			t.Fatal("still active after leadership was lost")
		}
		if got := n.prop.inflight.Load(); got != 0 {
			t.Fatalf("%d proposals still in flight after leadership was lost", got)
		}

		// As a follower it watches nothing: no observer is left to hear the new canary.
		n.prop.setHook(nil)
		second := n.create(t, "second", time.Millisecond)
		if n.svc.watchedCount() != 0 {
			t.Errorf("a follower keeps %d deadlines", n.svc.watchedCount())
		}

		// Regained: both deadlines passed during the "election" and are caught up at once.
		start := time.Now()
		lead(t, n)
		testkit.Until(t, 5*time.Second, "both canaries are late", func() bool {
			return n.canary(t, first).Late && n.canary(t, second).Late
		})
		t.Logf("caught up %v after regaining leadership", time.Since(start))
	})
}

func TestTwoNodesNeverBothActive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Each node counts itself in before it becomes active and out after it stopped, so
		// the count is above one only if two active spans overlapped.
		var active, overlaps atomic.Int32
		count := func(on bool) {
			if !on {
				active.Add(-1)
				return
			}
			if active.Add(1) > 1 {
				overlaps.Add(1)
			}
		}
		a, b := startNode(t), startNode(t)
		// Each node has proposals in flight when it loses leadership.
		for _, n := range []*node{a, b} {
			n.svc.onActive = count
			n.prop.setHook(func(ctx context.Context, cmd *fsm.Command) error {
				if cmd.Type == fsm.TypeMarkLate {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(time.Millisecond):
						return errors.New("no quorum")
					}
				}
				return nil
			})
			for i := range 20 {
				n.create(t, fmt.Sprintf("job %d", i), time.Millisecond)
			}
		}
		from, to := a, b
		lead(t, from)
		for range 20 {
			from.svc.Revoke()
			lead(t, to)
			from, to = to, from
		}
		if got := overlaps.Load(); got != 0 {
			t.Fatalf("both nodes were active %d times", got)
		}
	})
}

func TestFailedMarkLateIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t)
		lead(t, n)
		var failures atomic.Int32
		n.prop.setHook(func(_ context.Context, cmd *fsm.Command) error {
			if cmd.Type == fsm.TypeMarkLate && failures.Add(1) <= 2 {
				return propose.ErrNotLeader
			}
			return nil
		})
		id := n.create(t, "flaky", time.Millisecond)
		testkit.Until(t, 5*time.Second, "the canary is late", func() bool { return n.canary(t, id).Late })
		if got := len(n.prop.committed(fsm.TypeMarkLate)); got != 1 {
			t.Errorf("%d mark-late commits, want 1", got)
		}
	})
}

// snapshotSink collects a snapshot in memory.
type snapshotSink struct{ bytes.Buffer }

func (*snapshotSink) ID() string    { return "test" }
func (*snapshotSink) Cancel() error { return nil }
func (*snapshotSink) Close() error  { return nil }

func TestRestoreRebuildsTheHeap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t)
		lead(t, n)
		other := &node{f: fsm.New()}
		id := other.create(t, "restored", 50*time.Millisecond)
		snap, err := other.f.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		var sink snapshotSink
		if err := snap.Persist(&sink); err != nil {
			t.Fatal(err)
		}
		if err := n.f.Restore(readCloser{&sink}); err != nil {
			t.Fatal(err)
		}
		testkit.Until(t, 5*time.Second, "the restored canary is late", func() bool { return n.canary(t, id).Late })
	})
}

type readCloser struct{ *snapshotSink }

func (readCloser) Close() error { return nil }

// entryCounter is a leading node for propose.Proposer over a real FSM that counts the log
// entries holding mark-late commands. Each commit takes commitLatency, as a Raft round with an fsync
// does; that wait is what lets the proposer's batches fill.
type entryCounter struct {
	f        *fsm.FSM
	markLate atomic.Int32
}

const commitLatency = time.Millisecond

func (a *entryCounter) IsLeader() bool { return true }

func (a *entryCounter) Forward(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("the leader forwarded a batch")
}

func (a *entryCounter) Apply(_ context.Context, entry []byte) (any, error) {
	time.Sleep(commitLatency)
	cmds, err := fsm.DecodeBatch(entry)
	if err != nil {
		return nil, err
	}
	if len(cmds) > 0 && cmds[0].Type == fsm.TypeMarkLate {
		a.markLate.Add(1)
	}
	return a.f.Apply(&raft.Log{Type: raft.LogCommand, Data: entry}), nil
}

// manyDue makes count canaries due at the same instant, period from now, and returns it.
func manyDue(f *fsm.FSM, count int, period time.Duration) time.Time {
	now := time.Now().UTC().Truncate(time.Microsecond)
	cmds := make([]fsm.Command, count)
	for i := range cmds {
		id := fmt.Sprintf("%c%c%c%czzzz", 'a'+i/17576%26, 'a'+i/676%26, 'a'+i/26%26, 'a'+i%26)
		cmds[i] = fsm.Command{Type: fsm.TypeCreate, Version: fsm.CommandVersion, At: now,
			Create: &fsm.Create{ID: id, Name: "job " + id, Periodicity: fsm.Periodicity{Seconds: period.Seconds()}}}
	}
	f.ApplyCommands(cmds)
	return now.Add(period)
}

func lateCount(f *fsm.FSM) int {
	late := true
	canaries, _ := f.List(fsm.Filter{Late: &late})
	return len(canaries)
}

// TestManyDueAtOnceGoOutInFewEntries: 10,000 deadlines that passed during an election
// are caught up by the new leader in a few log entries, not 10,000 rounds.
func TestManyDueAtOnceGoOutInFewEntries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const count = 10_000
		f := fsm.New()
		manyDue(f, count, time.Millisecond)
		counter := &entryCounter{f: f}
		p := propose.New(counter, propose.Options{})
		defer p.Close()
		n := startNode(t, func(c *Config) { c.Store, c.Proposer, c.Logger = f, p, discardLogger() })

		start := time.Now()
		lead(t, n)
		testkit.Until(t, 30*time.Second, "every canary is late", func() bool { return lateCount(f) == count })
		entries := counter.markLate.Load()
		t.Logf("%d canaries late %v after gaining leadership, in %d log entries", count, time.Since(start), entries)
		if entries > count/50 {
			t.Errorf("%d mark-late entries for %d canaries: not grouped", entries, count)
		}
	})
}

// BenchmarkManyDueAtOnce measures how long a new leader takes to mark late 10,000
// canaries whose deadlines passed during the election, through the real proposer.
func BenchmarkManyDueAtOnce(b *testing.B) {
	const count = 10_000
	for b.Loop() {
		b.StopTimer()
		f := fsm.New()
		manyDue(f, count, time.Millisecond)
		counter := &entryCounter{f: f}
		p := propose.New(counter, propose.Options{})
		svc := New(Config{Store: f, Proposer: p, Notifier: &recorder{}, Logger: discardLogger()})
		time.Sleep(2 * time.Millisecond) // the deadlines pass
		b.StartTimer()
		start := time.Now()
		if err := svc.Establish(context.Background()); err != nil {
			b.Fatal(err)
		}
		for lateCount(f) < count {
			time.Sleep(time.Millisecond)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms-to-all-late")
		b.ReportMetric(float64(counter.markLate.Load()), "entries")
		b.StopTimer()
		svc.Revoke()
		p.Close()
		b.StartTimer()
	}
}

// BenchmarkLateness measures how long after its deadline a canary is marked late.
func BenchmarkLateness(b *testing.B) {
	f := fsm.New()
	prop := &applyProposer{f: f}
	svc := New(Config{Store: f, Proposer: prop, Notifier: &recorder{}, Logger: discardLogger()})
	if err := svc.Establish(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer svc.Revoke()
	n := &node{f: f}
	t := &testing.T{}
	for b.Loop() {
		id := n.create(t, "bench "+fmt.Sprint(idCounter.Load()), 20*time.Millisecond)
		for c, _ := f.Get(id); !c.Late; c, _ = f.Get(id) {
			time.Sleep(100 * time.Microsecond)
		}
	}
	var total time.Duration
	delays := lateDelays(prop)
	for _, d := range delays {
		total += d
	}
	b.ReportMetric(float64(total.Microseconds())/float64(len(delays)), "µs-late")
}
