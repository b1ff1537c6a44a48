// Package alerting is coal-mine's leader-only work: the deadline watcher that proposes
// mark-late when a canary's deadline passes, and the dispatcher that sends the
// notifications of the replicated outbox and then records them as sent.
//
// A Service is one of the cluster's leader subsystems: the leader loop establishes it
// once the new leader has applied every earlier term's entries, and revokes it, waiting
// for its goroutines, as soon as leadership is lost. It builds its deadline heap from
// the state machine when it is established (fsm.Watch); followers keep no watch state.
package alerting

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
)

// Store is the part of the state machine that alerting reads. *fsm.FSM implements it.
type Store interface {
	// Watch makes the service the observer of changes, starting with every deadline.
	Watch(fsm.Observer)
	Unwatch(fsm.Observer)
	OutboxPage(after uint64, limit int) []fsm.Notification
	Get(id string) (*fsm.Canary, error)
	Pending(seq uint64) bool
	// Clock is the newest command time applied: when the cluster last accepted a write.
	Clock() time.Time
	Channel(name string) (*fsm.Channel, error)
	// MembersReportedDown are the voters reported down and not yet back, with when they
	// went down (replicated: a new leader does not report them again).
	MembersReportedDown() map[string]time.Time
}

// Proposer commits commands through Raft. *propose.Proposer implements it; it stamps
// the commands and groups concurrent ones into one log entry.
type Proposer interface {
	Propose(context.Context, fsm.Command) (fsm.Result, error)
}

// Notifier delivers one message (e-mail, or a log line).
type Notifier interface {
	Notify(ctx context.Context, msg Message) error
}

// Config is what New needs. Store and Proposer are required.
type Config struct {
	Store
	Proposer
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
	// AdminEmails receive the cluster's own events (an outage).
	AdminEmails []string
	// PublicURL is the server as its users reach it; every message then links to the
	// canary.
	PublicURL string
	// HeartbeatURL is an outside dead man's switch that the leader alone pings every
	// HeartbeatInterval (default 1m), so that someone hears when the whole cluster
	// stops alerting.
	HeartbeatURL      string
	HeartbeatInterval time.Duration
	// Members reports the voters and whether gossip sees each alive (nil: no member
	// events). A voter unreachable for MemberDownAfter (default 1m) is reported to the
	// admins, and so is its return; so are notifications failing for FailingAfter
	// (default 10m).
	Members                       func() []Member
	MemberDownAfter, FailingAfter time.Duration
	// HandOver gives leadership to another voter (nil: never). The leader calls it
	// once when its watcher has left a due deadline untaken for WatcherStuckAfter
	// (default 1m), or a dispatcher cycle has run for DispatcherStuckAfter (default
	// 10m): a leader that holds on but cannot alert is worse than an election.
	HandOver                                func(context.Context) error
	WatcherStuckAfter, DispatcherStuckAfter time.Duration
	// TickEvery is how often an idle leader records that the cluster accepts writes
	// (default 2s); OutageAfter is the gap without any write that a new leader takes
	// for an outage (default 10s): longer than a tick plus an election, so a node's
	// death while a quorum stays up is never one.
	TickEvery, OutageAfter time.Duration
}

// Defaults of Config.
const (
	DefaultRetryMin             = time.Second
	DefaultRetryMax             = 5 * time.Minute
	DefaultGiveUpAfter          = 24 * time.Hour
	DefaultMaxRefusals          = 3
	DefaultTickEvery            = 2 * time.Second
	DefaultMemberDownAfter      = time.Minute
	DefaultWatcherStuckAfter    = time.Minute
	DefaultDispatcherStuckAfter = 10 * time.Minute
	DefaultFailingAfter         = 10 * time.Minute
	// DefaultHeartbeatInterval is how often the leader pings HeartbeatURL.
	DefaultHeartbeatInterval = time.Minute
	DefaultOutageAfter       = 10 * time.Second
)

var (
	// ErrAlreadyRunning is returned by Establish on a service already established.
	ErrAlreadyRunning = errors.New("alerting is already running")
)

// Service runs the deadline watcher and the dispatcher while this node is the leader
// (Establish, Revoke). It implements fsm.Observer while established.
type Service struct {
	cfg Config
	log *slog.Logger
	// hooks sends to webhook, Slack and PagerDuty channels.
	hooks *http.Client
	// failing is each dispatcher's oldest failing record, for the health watcher.
	failing [lanes]failingState

	// mu guards the watch state; take it with lockWatch. Reset takes it inside the FSM
	// lock, so whoever holds it must never call into the Store.
	mu       sync.Mutex
	heap     *deadlineHeap
	inflight map[string]time.Time // mark-late proposals under way: id -> deadline
	armed    time.Time            // when the watcher's timer fires (zero: not armed)

	// changes holds the deadline changes the observer heard that the heap has not taken
	// in yet. The observer runs on raft's apply goroutine inside the FSM's write lock.
	// When it took mu itself, a storm's thousand mark-lates settling at once kept it
	// queued there: each entry of 64 mark-lates held the FSM lock, and every trigger's
	// read and commit behind it, for tens of milliseconds. So it only appends here,
	// under a lock held for an append, and lockWatch takes the changes in, in order,
	// before anyone looks at the heap.
	changesMu sync.Mutex
	changes   []deadlineChange

	wake chan struct{}        // tells the watcher the earliest deadline moved
	poke [lanes]chan struct{} // tells each dispatcher the outbox grew

	metrics *metrics

	// term is the running leadership term's work: set by Establish, ended by Revoke.
	termMu sync.Mutex
	term   *term
	active atomic.Bool
	// onActive, if set (tests), hears each change of Active as it happens: before
	// Active turns true and after it turns false.
	onActive func(active bool)
}

var _ fsm.Observer = (*Service)(nil)

// New returns a Service: a leader subsystem for the cluster's leader loop.
func New(cfg Config) *Service {
	if cfg.Store == nil || cfg.Proposer == nil {
		panic("alerting.New: Store and Proposer are required")
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
	// Durations left zero take their defaults.
	for _, d := range []struct {
		setting *time.Duration
		def     time.Duration
	}{
		{&cfg.GiveUpAfter, DefaultGiveUpAfter},
		{&cfg.WatcherStuckAfter, DefaultWatcherStuckAfter},
		{&cfg.DispatcherStuckAfter, DefaultDispatcherStuckAfter},
		{&cfg.MemberDownAfter, DefaultMemberDownAfter},
		{&cfg.FailingAfter, DefaultFailingAfter},
		{&cfg.HeartbeatInterval, DefaultHeartbeatInterval},
		{&cfg.TickEvery, DefaultTickEvery},
		{&cfg.OutageAfter, DefaultOutageAfter},
	} {
		if *d.setting <= 0 {
			*d.setting = d.def
		}
	}
	if cfg.MaxRefusals <= 0 {
		cfg.MaxRefusals = DefaultMaxRefusals
	}
	return &Service{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "alerting"),
		heap:     newDeadlineHeap(),
		inflight: make(map[string]time.Time),
		wake:     make(chan struct{}, 1),
		poke:     [lanes]chan struct{}{make(chan struct{}, 1), make(chan struct{}, 1)},
		metrics:  newMetrics(),
		hooks:    newHookClient(),
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

// deadlineChange is one DeadlineChanged call, waiting for lockWatch.
type deadlineChange struct {
	id       string
	deadline time.Time
	watched  bool
}

// DeadlineChanged queues the change for the heap (fsm.Observer). Never waits for mu.
func (s *Service) DeadlineChanged(id string, deadline time.Time, watched bool) {
	s.changesMu.Lock()
	first := len(s.changes) == 0
	s.changes = append(s.changes, deadlineChange{id: id, deadline: deadline, watched: watched})
	s.changesMu.Unlock()
	if first {
		// The watcher takes the changes in and rearms: a deadline earlier than its
		// timer is not missed, and the queue stays as short as one wake-up.
		signal(s.wake)
	}
}

// lockWatch takes mu with the heap current: the changes the observer queued go in
// first, in the order they were applied.
func (s *Service) lockWatch() {
	s.mu.Lock()
	s.changesMu.Lock()
	changes := s.changes
	s.changes = nil
	s.changesMu.Unlock()
	for _, c := range changes {
		// Whatever a mark-late in flight for this canary was about is settled or moot
		// now: if that proposal fails, it must not put back the old deadline.
		delete(s.inflight, c.id)
		if !c.watched {
			s.heap.remove(c.id)
			continue
		}
		s.heap.set(c.id, c.deadline)
		s.wakeIfEarlierLocked(c.deadline)
	}
}

// dropChanges forgets the queued changes: the heap is being replaced.
func (s *Service) dropChanges() {
	s.changesMu.Lock()
	s.changes = nil
	s.changesMu.Unlock()
}

// OutboxChanged pokes the dispatcher (fsm.Observer). Never blocks.
func (s *Service) OutboxChanged() {
	for _, p := range s.poke {
		signal(p)
	}
}

// Reset replaces the heap with the given deadlines (fsm.Observer): when the service
// starts watching, and when a snapshot replaced the state. It runs under the FSM's lock,
// so no change can slip between the deadlines read and the ones heard after.
func (s *Service) Reset(deadlines iter.Seq2[string, time.Time]) {
	// One allocation for all entries: a million small ones would be a million objects
	// for the garbage collector to trace.
	var slab []entry
	for id, at := range deadlines {
		slab = append(slab, newEntry(id, at))
	}
	entries := make([]*entry, len(slab))
	for i := range slab {
		entries[i] = &slab[i]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Reset runs inside the FSM lock: every change queued so far is in the deadlines.
	s.dropChanges()
	s.heap.build(entries)
	clear(s.inflight)
	signal(s.wake)
	for _, p := range s.poke {
		signal(p)
	}
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
