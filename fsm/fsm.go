// Package fsm is coal-mine's replicated state machine: the canaries, the notification
// outbox, the typed commands that change them and the queries that read them.
//
// Apply is deterministic: it reads no clock, randomness, environment or network. Every
// time it uses comes from the command, stamped by the proposer, so every replica that
// applies the same log reaches byte-identical state.
package fsm

import (
	"io"
	"iter"
	"sync"
	"time"

	"github.com/google/btree"
	"github.com/hashicorp/raft"
)

// Observer hears about changes as Apply makes them, so the leader's deadline watcher and
// dispatcher need not poll. It is called with the FSM's lock held: it must not block and
// must not call back into the FSM.
type Observer interface {
	// Reset gives the deadline of every canary to watch, replacing whatever the
	// observer knew: when it starts watching (Watch), and when a snapshot replaced the
	// whole state.
	Reset(deadlines iter.Seq2[string, time.Time])
	// DeadlineChanged says the canary's deadline must (watched) or must no longer be
	// watched: paused, late or deleted canaries are not.
	DeadlineChanged(id string, deadline time.Time, watched bool)
	// OutboxChanged says records were appended to the outbox.
	OutboxChanged()
}

// FSM is the state machine. It implements raft.FSM.
type FSM struct {
	mu       sync.RWMutex
	canaries *btree.BTreeG[*Canary] // ordered by id: stable snapshots and list cursors
	slugs    map[string]string      // slug -> id
	outbox   map[uint64]Notification
	channels map[string]*Channel // by name; values immutable, like canaries
	// down holds the voters reported down to the admins and not yet back, with when
	// they went down: a new leader does not report them again.
	down    map[string]time.Time
	order   outboxOrder // the outbox's sequence numbers, ascending
	nextSeq uint64
	// clock is the newest command time applied. A command stamped earlier (a new leader
	// whose clock lags) is applied at this time instead, so history stays ordered.
	clock    time.Time
	observer Observer
	counts   counts // kept as canaries change, so Stats costs nothing
}

// counts are the canaries by state, for Stats.
type counts struct{ late, paused int }

// add adds (sign 1) or removes (sign -1) one canary's contribution.
func (c *counts) add(canary *Canary, sign int) {
	if canary == nil {
		return
	}
	if canary.Late {
		c.late += sign
	}
	if canary.Paused {
		c.paused += sign
	}
}

var _ raft.FSM = (*FSM)(nil)

// New returns an empty state machine.
func New() *FSM {
	return &FSM{
		canaries: newTree(),
		slugs:    make(map[string]string),
		outbox:   make(map[uint64]Notification),
		channels: make(map[string]*Channel),
		down:     make(map[string]time.Time),
		nextSeq:  1,
	}
}

func newTree() *btree.BTreeG[*Canary] {
	return btree.NewG(32, func(a, b *Canary) bool { return a.ID < b.ID })
}

// Watch makes o the observer: under one lock, it gives o the deadlines to watch (Reset)
// and from then on every change, so that o misses none and sees none twice. The leader
// watches from when it establishes its leadership; followers keep no watch state.
func (f *FSM) Watch(o Observer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.observer = o
	o.Reset(f.watchedDeadlines)
}

// Unwatch stops o from hearing changes (if it is the observer).
func (f *FSM) Unwatch(o Observer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.observer == o {
		f.observer = nil
	}
}

// watchedDeadlines yields the deadline of every watched canary, in id order. The lock
// must be held.
func (f *FSM) watchedDeadlines(yield func(string, time.Time) bool) {
	f.canaries.Ascend(func(c *Canary) bool {
		wake, ok := c.Wake()
		return !ok || yield(c.ID, wake)
	})
}

// Apply applies one log entry: a batch of commands. It returns []Result, one per command,
// or an error value if the entry cannot be decoded.
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	cmds, err := DecodeBatch(l.Data)
	if err != nil {
		return err
	}
	return f.ApplyCommands(cmds)
}

// ApplyCommands applies decoded commands in order. It is Apply without Raft, for tests
// and benchmarks.
func (f *FSM) ApplyCommands(cmds []Command) []Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	results := make([]Result, len(cmds))
	for i := range cmds {
		results[i] = f.apply(&cmds[i])
	}
	return results
}

// Snapshot captures the state in O(1): the canary tree is copy-on-write and canaries are
// immutable, so Persist can encode it while Apply goes on.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	outbox := make([]Notification, 0, len(f.outbox))
	for _, n := range f.outbox {
		outbox = append(outbox, n)
	}
	return &snapshot{
		channels: f.sortedChannels(func(*Channel) bool { return true }),
		down:     sortedReports(f.down),
		canaries: f.canaries.Clone(),
		outbox:   outbox,
		nextSeq:  f.nextSeq,
		clock:    f.clock,
	}, nil
}

// Restore replaces the whole state with a snapshot.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	st, err := decodeSnapshot(rc)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.canaries = st.canaries
	f.counts = counts{}
	f.canaries.Ascend(func(c *Canary) bool { f.counts.add(c, 1); return true })
	f.slugs = st.slugs
	f.outbox = st.outbox
	f.channels = st.channels
	f.down = st.down
	f.order = newOutboxOrder(f.outbox)
	f.nextSeq = st.nextSeq
	f.clock = st.clock
	if f.observer != nil {
		f.observer.Reset(f.watchedDeadlines)
	}
	return nil
}
