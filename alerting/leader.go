package alerting

import (
	"context"
	"sync"
	"time"
)

// Run follows leadership until ctx is done: on gaining it, it confirms it with a
// Barrier, rebuilds the deadline heap and starts the watcher and the dispatcher; on
// losing it (or when ctx is done) it stops both and waits for them before it reads the
// next leadership change.
func (s *Service) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer s.running.Store(false)
	changes, unsubscribe := s.cfg.Leadership.SubscribeLeadership()
	defer unsubscribe()
	var current *term
	defer func() { current.stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case leader, ok := <-changes:
			if !ok {
				return ErrLeadershipClosed
			}
			switch {
			case leader && current == nil:
				s.log.Info("gained leadership: starting the deadline watcher and the dispatcher")
				current = s.lead(ctx)
			case !leader && current != nil:
				current.stop()
				current = nil
				s.log.Info("lost leadership: stopped the deadline watcher and the dispatcher")
			}
		}
	}
}

// term is one stretch of leadership.
type term struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// stop cancels the term and waits until all of its goroutines have returned.
func (t *term) stop() {
	if t == nil {
		return
	}
	t.cancel()
	<-t.done
}

func (s *Service) lead(parent context.Context) *term {
	ctx, cancel := context.WithCancel(parent)
	t := &term{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		s.runTerm(ctx)
	}()
	return t
}

// runTerm waits for the log to be applied up to this term, then runs the watcher and the
// dispatcher until ctx is cancelled.
func (s *Service) runTerm(ctx context.Context) {
	if err := s.barrier(ctx); err != nil {
		return
	}
	s.rebuild()
	s.log.Info("leading: watching deadlines and sending notifications", "watched", s.watchedCount())
	s.setActive(true)
	defer s.setActive(false)
	var wg sync.WaitGroup
	wg.Go(func() { s.watch(ctx) })
	wg.Go(func() { s.dispatch(ctx) })
	wg.Wait()
}

func (s *Service) watchedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.heap.Len()
}

// Barrier retry bounds: a barrier fails when the log cannot commit yet (a new leader
// still catching up its followers), which passes quickly or ends in losing leadership.
const (
	barrierTimeout  = 10 * time.Second
	barrierRetryMin = 100 * time.Millisecond
	barrierRetryMax = 5 * time.Second
)

// barrier runs Leadership.Barrier until it succeeds; it fails only when ctx is done.
func (s *Service) barrier(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		bctx, cancel := context.WithTimeout(ctx, barrierTimeout)
		err := s.cfg.Leadership.Barrier(bctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := backoff(attempt, barrierRetryMin, barrierRetryMax)
		s.log.Warn("raft barrier failed; retrying", "err", err, "attempt", attempt, "retry_in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// rebuild replaces the heap with the store's deadlines. The store is read without s.mu
// (the observer takes s.mu inside the FSM lock), so changes that arrive meanwhile are
// journalled and win over what the read returned.
func (s *Service) rebuild() {
	s.mu.Lock()
	s.journal = make(map[string]deadlineNote)
	s.stale = false
	s.mu.Unlock()

	deadlines := s.cfg.Store.Deadlines()

	s.mu.Lock()
	defer s.mu.Unlock()
	// One allocation for all entries: a million small ones would be a million objects
	// for the garbage collector to trace.
	slab := make([]entry, 0, len(deadlines)+len(s.journal))
	for _, d := range deadlines {
		if _, changed := s.journal[d.ID]; changed {
			continue
		}
		slab = append(slab, newEntry(d.ID, d.At))
	}
	for id, note := range s.journal {
		if note.watched {
			slab = append(slab, newEntry(id, note.deadline))
		}
	}
	entries := make([]*entry, len(slab))
	for i := range slab {
		entries[i] = &slab[i]
	}
	s.heap.build(entries)
	s.journal = nil
}
