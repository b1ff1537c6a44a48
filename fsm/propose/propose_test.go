package propose

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
	"github.com/hashicorp/raft"
)

// fsmApplier commits entries straight into a real state machine, slowly enough that
// concurrent proposals have time to queue up behind an entry in flight.
type fsmApplier struct {
	fsm     *fsm.FSM
	delay   time.Duration
	entries atomic.Int64
	err     error
}

// fsmApplier leads: it commits everything itself.
func (a *fsmApplier) IsLeader() bool { return true }

func (a *fsmApplier) Forward(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("the leader forwarded a batch")
}

func (a *fsmApplier) Apply(ctx context.Context, entry []byte) (any, error) {
	if a.err != nil {
		return nil, a.err
	}
	a.entries.Add(1)
	time.Sleep(a.delay)
	return a.fsm.Apply(&raft.Log{Type: raft.LogCommand, Data: entry}), nil
}

func TestConcurrentProposalsShareEntries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		state := fsm.New()
		a := &fsmApplier{fsm: state, delay: 5 * time.Millisecond}
		p := New(a, Options{MaxInFlight: 1})
		defer p.Close()
		ctx := context.Background()

		res, err := p.Create(ctx, fsm.Create{Name: "job", Periodicity: fsm.Periodicity{Seconds: 60}}, nil)
		if err != nil || res.Err != nil {
			t.Fatalf("create: %v %v", err, res.Err)
		}
		id := res.Canary.ID
		const n = 200
		proposeConcurrently(t, n, func(i int) error {
			res, err := p.Propose(ctx, fsm.Command{Type: fsm.TypeTrigger, Trigger: &fsm.Trigger{ID: id, Comment: fmt.Sprint(i)}})
			if err == nil {
				err = res.Err
			}
			return err
		})
		c, _ := state.Get(id)
		if c.History.Len() != n+1 {
			t.Fatalf("history has %d entries, want %d", c.History.Len(), n+1)
		}
		if entries := a.entries.Load(); entries >= n/2 {
			t.Fatalf("%d proposals took %d log entries: no group commit", n, entries)
		}
	})
}

func TestPerCommandErrorsStayPerCommand(t *testing.T) {
	p := New(&fsmApplier{fsm: fsm.New()}, Options{})
	defer p.Close()
	res, err := p.Propose(context.Background(), fsm.Command{Type: fsm.TypeTrigger, Trigger: &fsm.Trigger{ID: "nosuchid"}})
	if err != nil || !errors.Is(res.Err, fsm.ErrNotFound) {
		t.Fatalf("trigger of a missing canary: %v, %v", err, res.Err)
	}
}

// TestProposerStampsThePeriodicityFloor: what a proposer commits carries this binary's
// periodicity floor, so Apply refuses a create below it even if nothing checked it
// before (an old log entry, without the floor, would be applied as it was then).
func TestProposerStampsThePeriodicityFloor(t *testing.T) {
	p := New(&fsmApplier{fsm: fsm.New()}, Options{})
	defer p.Close()
	res, err := p.Create(context.Background(), fsm.Create{Name: "fast", Periodicity: fsm.Periodicity{Seconds: 1e-7}}, nil)
	if err != nil || !errors.Is(res.Err, fsm.ErrInvalid) {
		t.Fatalf("create with a periodicity of 1e-7 s: %v, %v; want ErrInvalid", err, res.Err)
	}
}

// leaderless is a node of a cluster that has no leader.
type leaderless struct{}

func (leaderless) IsLeader() bool { return false }
func (leaderless) Apply(context.Context, []byte) (any, error) {
	return nil, ErrNotLeader
}
func (leaderless) Forward(context.Context, []byte) ([]byte, error) {
	return nil, fmt.Errorf("%w: no leader known", ErrNotLeader)
}

func TestNotLeaderReachesCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(leaderless{}, Options{})
		defer p.Close()
		_, err := p.ProposeWithin(context.Background(), fsm.Command{Type: fsm.TypeDelete, Delete: &fsm.Delete{ID: "abcdefgh"}}, 100*time.Millisecond)
		if !errors.Is(err, ErrNotLeader) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrNotLeader or a deadline", err)
		}
	})
}

func TestProposeAfterClose(t *testing.T) {
	p := New(&fsmApplier{fsm: fsm.New()}, Options{})
	p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := p.Propose(ctx, fsm.Command{Type: fsm.TypeDelete, Delete: &fsm.Delete{ID: "abcdefgh"}})
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("err = %v, want ErrStopped", err)
	}
}

func TestNewID(t *testing.T) {
	for range 100 {
		if id := NewID(); !fsm.ValidID(id) {
			t.Fatalf("NewID() = %q", id)
		}
	}
}

func BenchmarkProposeParallel(b *testing.B) {
	state := fsm.New()
	p := New(&fsmApplier{fsm: state, delay: time.Millisecond}, Options{})
	defer p.Close()
	res, _ := p.Create(context.Background(), fsm.Create{Name: "job", Periodicity: fsm.Periodicity{Seconds: 60}}, nil)
	id := res.Canary.ID
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = p.Propose(context.Background(), fsm.Command{Type: fsm.TypeTrigger, Trigger: &fsm.Trigger{ID: id}})
		}
	})
}

// follower is a node that relays to a leader in the same process, as the nodes' RPC
// does, and records whether it stamped a time of its own.
type follower struct {
	leader   *Proposer
	requests atomic.Int64
	stamped  atomic.Bool
}

func (f *follower) IsLeader() bool { return false }
func (f *follower) Apply(context.Context, []byte) (any, error) {
	return nil, ErrNotLeader
}

func (f *follower) Forward(ctx context.Context, payload []byte) ([]byte, error) {
	f.requests.Add(1)
	cmds, err := decodeCommands(payload)
	if err != nil {
		return nil, err
	}
	for _, c := range cmds {
		if !c.At.IsZero() {
			f.stamped.Store(true)
		}
	}
	time.Sleep(2 * time.Millisecond) // the hop to the leader
	return f.leader.ServeForwarded(ctx, payload)
}

func TestRelayedCommandsAreBatchedAndStampedByTheLeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		leaderClock := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		state := fsm.New()
		leader := New(&fsmApplier{fsm: state}, Options{Now: func() time.Time { return leaderClock }})
		defer leader.Close()
		f := &follower{leader: leader}
		relay := New(f, Options{Now: func() time.Time { return leaderClock.Add(time.Hour) }})
		defer relay.Close()
		created, err := relay.Create(context.Background(), fsm.Create{Name: "job", Periodicity: fsm.Periodicity{Seconds: 60}}, nil)
		if err != nil || created.Err != nil || created.Canary.History.Len() != 1 {
			t.Fatalf("relayed create: %v %v %+v", err, created.Err, created.Canary)
		}

		const n = 100
		proposeConcurrently(t, n, func(int) error {
			res, err := relay.Propose(context.Background(), fsm.Command{Type: fsm.TypeTrigger, Trigger: &fsm.Trigger{ID: created.Canary.ID}})
			if err == nil {
				err = res.Err
			}
			return err
		})
		c, _ := state.Get(created.Canary.ID)
		if last, _ := c.History.Last(); c.History.Len() != n+1 || last.Time() != leaderClock {
			t.Errorf("history of %d entries, the last at %v; want %d at the leader's %v", c.History.Len(), last.Time(), n+1, leaderClock)
		}
		if f.stamped.Load() {
			t.Error("the follower stamped its own clock on a command")
		}
		if got := f.requests.Load(); got >= n {
			t.Errorf("%d relayed requests for %d commands: no batching", got, n)
		}
		res, err := relay.Propose(context.Background(), fsm.Command{Type: fsm.TypeTrigger, Trigger: &fsm.Trigger{ID: "nosuchid"}})
		if err != nil || !errors.Is(res.Err, fsm.ErrNotFound) {
			t.Errorf("relayed trigger of an unknown canary: %v, %v", res.Err, err)
		}
	})
}

// TestServeForwardedRefusesWhatNoClientSends: a relayed batch is decoded whole, and one
// with a leader-only command (or garbage) is refused whole, before anything is proposed.
func TestServeForwardedRefusesWhatNoClientSends(t *testing.T) {
	a := &fsmApplier{fsm: fsm.New()}
	leader := New(a, Options{})
	defer leader.Close()
	markLate, _ := encodeCommands([]fsm.Command{
		{Type: fsm.TypeTrigger, Trigger: &fsm.Trigger{ID: "abcdefgh"}},
		{Type: fsm.TypeMarkLate, MarkLate: &fsm.MarkLate{ID: "abcdefgh"}},
	})
	for name, payload := range map[string][]byte{
		"a leader-only command": markLate, "garbage": []byte("\x01{not json"), "empty": {},
		"no commands": append([]byte{wireFormat}, "[]"...),
	} {
		if _, err := leader.ServeForwarded(context.Background(), payload); !errors.Is(err, errBadWire) {
			t.Errorf("%s: %v, want errBadWire", name, err)
		}
	}
	if got := a.entries.Load(); got != 0 {
		t.Errorf("%d entries committed from refused batches", got)
	}
}

// movingLeader leads until its first entry, which fails as raft fails an Apply on a node
// that just lost leadership; from then on it relays to the new leader.
type movingLeader struct {
	follower
	lost atomic.Bool
}

func (m *movingLeader) IsLeader() bool { return !m.lost.Load() }
func (m *movingLeader) Apply(context.Context, []byte) (any, error) {
	m.lost.Store(true)
	return nil, fmt.Errorf("%w: lost it", ErrNotLeader)
}

// TestBatchFollowsLeadershipOnce: an entry that a node which just lost leadership could
// not append is relayed to the new leader, and committed once.
func TestBatchFollowsLeadershipOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		state := fsm.New()
		leader := New(&fsmApplier{fsm: state}, Options{})
		defer leader.Close()
		created, _ := leader.Create(context.Background(), fsm.Create{Name: "job", Periodicity: fsm.Periodicity{Seconds: 60}}, nil)
		m := &movingLeader{follower: follower{leader: leader}}
		p := New(m, Options{})
		defer p.Close()
		res, err := p.Propose(context.Background(), fsm.Command{Type: fsm.TypeTrigger, Trigger: &fsm.Trigger{ID: created.Canary.ID, Comment: "once"}})
		if err != nil || res.Err != nil {
			t.Fatalf("trigger: %v %v", err, res.Err)
		}
		if c, _ := state.Get(created.Canary.ID); c.History.Len() != 2 {
			t.Errorf("history has %d entries, want the creation and one trigger", c.History.Len())
		}
	})
}

// proposeConcurrently runs propose n times at once and fails the test on the first error.
func proposeConcurrently(t *testing.T, n int, propose func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- propose(i)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// heldApplier holds every entry until release is closed (or the entry gives up), then
// commits it into a real state machine.
type heldApplier struct {
	fsmApplier
	release chan struct{}
}

func (a *heldApplier) Apply(ctx context.Context, entry []byte) (any, error) {
	a.entries.Add(1)
	select {
	case <-a.release:
		return a.fsm.Apply(&raft.Log{Type: raft.LogCommand, Data: entry}), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestProposeWithinAnswersAtItsDeadline: a command queued behind an entry that does not
// commit is answered once its own timeout has passed, not when the entry ahead gives up,
// and is never sent.
func TestProposeWithinAnswersAtItsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &heldApplier{fsmApplier: fsmApplier{fsm: fsm.New()}, release: make(chan struct{})}
		p := New(a, Options{})
		defer p.Close()
		defer close(a.release)
		ctx := t.Context()
		first := make(chan error, 1)
		go func() {
			_, err := p.ProposeWithin(ctx, fsm.Command{Type: fsm.TypeDelete, Delete: &fsm.Delete{ID: "aaaaaaaa"}}, time.Hour)
			first <- err
		}()
		synctest.Wait() // the first is in flight; the second queues behind it
		_, err := p.ProposeWithin(ctx, fsm.Command{Type: fsm.TypeDelete, Delete: &fsm.Delete{ID: "bbbbbbbb"}}, 50*time.Millisecond)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a deadline exceeded", err)
		}
		select {
		case err := <-first:
			t.Fatalf("the first command was answered (%v) before it committed", err)
		default:
		}
		if n := a.entries.Load(); n != 1 {
			t.Errorf("%d entries sent, want 1: the second command expired in the queue", n)
		}
	})
}

// TestProposeAnswersAtItsContextDeadline: Propose and Background.Propose leave the
// shared tick alone and rely on their context, which must still answer them at its
// deadline, exactly, while the entry ahead does not commit.
func TestProposeAnswersAtItsContextDeadline(t *testing.T) {
	for _, tc := range []struct {
		name    string
		propose func(*Proposer, context.Context, fsm.Command) (fsm.Result, error)
	}{
		{"client", (*Proposer).Propose},
		{"background", func(p *Proposer, ctx context.Context, cmd fsm.Command) (fsm.Result, error) {
			return p.Background().Propose(ctx, cmd)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := &heldApplier{fsmApplier: fsmApplier{fsm: fsm.New()}, release: make(chan struct{})}
				p := New(a, Options{MaxInFlight: 1})
				defer p.Close()
				defer close(a.release)
				go p.ProposeWithin(t.Context(), fsm.Command{Type: fsm.TypeDelete, Delete: &fsm.Delete{ID: "aaaaaaaa"}}, time.Hour)
				synctest.Wait() // in flight, and held
				ctx, cancel := context.WithTimeout(t.Context(), 70*time.Millisecond)
				defer cancel()
				start := time.Now()
				_, err := tc.propose(p, ctx, fsm.Command{Type: fsm.TypeDelete, Delete: &fsm.Delete{ID: "bbbbbbbb"}})
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v, want a deadline exceeded", err)
				}
				if waited := time.Since(start); waited != 70*time.Millisecond {
					t.Errorf("answered after %v, want at the context's deadline, 70ms", waited)
				}
			})
		})
	}
}

// TestCloseAnswersEveryCaller: closing a proposer with an entry in flight and commands
// waiting behind it answers every caller, with a result or ErrStopped.
func TestCloseAnswersEveryCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &heldApplier{fsmApplier: fsmApplier{fsm: fsm.New()}, release: make(chan struct{})}
		p := New(a, Options{})
		const callers = 20
		errs := make(chan error, callers)
		for i := range callers {
			go func() {
				_, err := p.ProposeWithin(t.Context(), fsm.Command{Type: fsm.TypeDelete, Delete: &fsm.Delete{ID: "aaaaaaaa"}}, time.Hour)
				errs <- err
			}()
			if i == 0 {
				synctest.Wait() // the first entry is in flight
			}
		}
		synctest.Wait() // the others queue
		closed := make(chan struct{})
		go func() { p.Close(); close(closed) }()
		synctest.Wait()
		if n := a.entries.Load(); n != 1 {
			t.Errorf("%d entries sent before Close, want the one in flight", n)
		}
		close(a.release) // the entry in flight commits; Close returns
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not return")
		}
		for range callers {
			select {
			case err := <-errs:
				if err != nil && !errors.Is(err, ErrStopped) {
					t.Errorf("a caller got %v, want a result or ErrStopped", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("a caller was never answered")
			}
		}
	})
}

// TestFullBatchesFollowEachOther: with more commands queued than one entry takes, each
// entry that commits sends the next full one at once, and every caller is answered.
func TestFullBatchesFollowEachOther(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		state := fsm.New()
		a := &sizedApplier{fsmApplier: fsmApplier{fsm: state, delay: 2 * time.Millisecond}}
		p := New(a, Options{MaxBatch: 4, MaxInFlight: 1})
		defer p.Close()
		res, err := p.Create(context.Background(), fsm.Create{Name: "job", Periodicity: fsm.Periodicity{Seconds: 60}}, nil)
		if err != nil || res.Err != nil {
			t.Fatalf("create: %v %v", err, res.Err)
		}
		const n = 40
		proposeConcurrently(t, n, func(int) error {
			res, err := p.Propose(context.Background(), fsm.Command{Type: fsm.TypeTrigger, Trigger: &fsm.Trigger{ID: res.Canary.ID}})
			if err == nil {
				err = res.Err
			}
			return err
		})
		total := 0
		for _, size := range a.entrySizes()[1:] {
			if size > 4 {
				t.Errorf("an entry carried %d commands, more than MaxBatch 4", size)
			}
			total += size
		}
		if total != n {
			t.Errorf("entries carried %d triggers, want %d", total, n)
		}
	})
}
