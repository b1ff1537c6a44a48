// Package alerting is coal-mine's leader-only work: the deadline watcher that proposes
// mark-late when a canary's deadline passes, and the dispatcher that sends the
// notifications of the replicated outbox and then records them as sent.
//
// Every node keeps the deadline heap current through the fsm.Observer callbacks, so that
// a node that becomes leader only has to confirm it (Barrier, rebuild) before it starts
// watching. Only the leader runs the watcher and the dispatcher; they stop, and are waited
// for, as soon as leadership is lost.
package alerting

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
)

// Store is the part of the state machine that alerting reads. *fsm.FSM implements it.
type Store interface {
	Deadlines() []fsm.Deadline
	OutboxPage(after uint64, limit int) []fsm.Notification
	Get(id string) (*fsm.Canary, error)
	Pending(seq uint64) bool
}

// Proposer commits commands through Raft. *propose.Proposer implements it; it stamps
// the commands and groups concurrent ones into one log entry.
type Proposer interface {
	Propose(context.Context, fsm.Command) (fsm.Result, error)
}

// Leadership tells this node when it gains (true) and loses (false) Raft leadership.
// The subscription must deliver the current state first and lose no change.
type Leadership interface {
	SubscribeLeadership() (<-chan bool, func())
	Barrier(context.Context) error
}

// Notifier delivers one message (e-mail, or a log line).
type Notifier interface {
	Notify(ctx context.Context, msg Message) error
}

// Config is what New needs. Store, Proposer and Leadership are required.
type Config struct {
	Store
	Proposer
	Leadership
	// Notifier sends the messages; nil logs them (LogNotifier).
	Notifier
	// Sender is the e-mail address notifications come from.
	Sender string
	Logger *slog.Logger
	// Now is the clock; tests replace it.
	Now func() time.Time
	// RetryMin and RetryMax bound the exponential backoff of a failed send
	// (defaults 1s and 5m).
	RetryMin, RetryMax time.Duration
	// GiveUpAfter is how long after its transition a notification that keeps failing
	// is given up on and recorded as failed (default 24h): an SMTP server down for
	// hours delays mail, and only a day without it drops some.
	GiveUpAfter time.Duration
	// MaxRefusals is how many sends whose every recipient is refused for good (5xx)
	// a notification gets before it is given up on (default 3).
	MaxRefusals int
}

// Defaults of Config.
const (
	DefaultRetryMin    = time.Second
	DefaultRetryMax    = 5 * time.Minute
	DefaultGiveUpAfter = 24 * time.Hour
	DefaultMaxRefusals = 3
)

var (
	// ErrAlreadyRunning is returned by a second concurrent Run.
	ErrAlreadyRunning = errors.New("alerting is already running")
	// ErrLeadershipClosed is returned by Run when the leadership channel closes.
	ErrLeadershipClosed = errors.New("leadership channel closed")
)

// Service runs the deadline watcher and the dispatcher while this node is the leader.
// It implements fsm.Observer.
type Service struct {
	cfg Config
	log *slog.Logger

	// mu guards the watch state. It is taken inside the FSM lock by the observer
	// callbacks, so whoever holds it must never call into the Store.
	mu       sync.Mutex
	heap     *deadlineHeap
	inflight map[string]time.Time    // mark-late proposals under way: id -> deadline
	journal  map[string]deadlineNote // changes seen while a rebuild reads the store
	stale    bool                    // the state was replaced: rebuild the heap
	armed    time.Time               // when the watcher's timer fires (zero: not armed)

	wake chan struct{} // tells the watcher the earliest deadline moved
	poke chan struct{} // tells the dispatcher the outbox grew

	metrics *metrics

	active  atomic.Bool
	running atomic.Bool
	// onActive, if set (tests), hears each change of Active as it happens: before
	// Active turns true and after it turns false.
	onActive func(active bool)
}

// deadlineNote is one DeadlineChanged call, kept while the heap is rebuilt.
type deadlineNote struct {
	deadline time.Time
	watched  bool
}

var _ fsm.Observer = (*Service)(nil)

// New returns a Service. Install it with fsm.SetObserver and start it with Run.
func New(cfg Config) *Service {
	if cfg.Store == nil || cfg.Proposer == nil || cfg.Leadership == nil {
		panic("alerting.New: Store, Proposer and Leadership are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Notifier == nil {
		cfg.Notifier = NewLogNotifier(cfg.Logger)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = DefaultRetryMin
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = DefaultRetryMax
	}
	cfg.RetryMax = max(cfg.RetryMax, cfg.RetryMin)
	if cfg.GiveUpAfter <= 0 {
		cfg.GiveUpAfter = DefaultGiveUpAfter
	}
	if cfg.MaxRefusals <= 0 {
		cfg.MaxRefusals = DefaultMaxRefusals
	}
	return &Service{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "alerting"),
		heap:     newDeadlineHeap(),
		inflight: make(map[string]time.Time),
		stale:    true,
		wake:     make(chan struct{}, 1),
		poke:     make(chan struct{}, 1),
		metrics:  newMetrics(),
	}
}

// Active reports whether this node is running the watcher and the dispatcher.
func (s *Service) Active() bool { return s.active.Load() }

func (s *Service) setActive(on bool) {
	if on && s.onActive != nil {
		s.onActive(true)
	}
	s.active.Store(on)
	if !on && s.onActive != nil {
		s.onActive(false)
	}
}

// DeadlineChanged keeps the heap current (fsm.Observer). O(log n), never blocks.
func (s *Service) DeadlineChanged(id string, deadline time.Time, watched bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.journal != nil {
		s.journal[id] = deadlineNote{deadline: deadline, watched: watched}
	}
	// Whatever a mark-late in flight for this canary was about is settled or moot now:
	// if that proposal fails, it must not put back the old deadline.
	delete(s.inflight, id)
	if !watched {
		s.heap.remove(id)
		return
	}
	s.heap.set(id, deadline)
	s.wakeIfEarlierLocked(deadline)
}

// OutboxChanged pokes the dispatcher (fsm.Observer). Never blocks.
func (s *Service) OutboxChanged() { signal(s.poke) }

// Reset marks the heap for a rebuild from the store (fsm.Observer). Never blocks.
func (s *Service) Reset() {
	s.mu.Lock()
	s.stale = true
	s.mu.Unlock()
	signal(s.wake)
	signal(s.poke)
}

// wakeIfEarlierLocked wakes the watcher if due comes before its timer.
func (s *Service) wakeIfEarlierLocked(due time.Time) {
	if !s.armed.IsZero() && !due.Before(s.armed) {
		return
	}
	signal(s.wake)
}

// signal makes a non-blocking send on a 1-buffered channel: one pending signal is
// enough, since the receiver rereads the whole state.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (s *Service) now() time.Time { return s.cfg.Now() }

// backoff is min * 2^(attempt-1), capped at max.
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < attempt && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// earliest returns the earlier of two times, a zero time meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
