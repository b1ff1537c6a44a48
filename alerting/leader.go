package alerting

import (
	"context"
	"sync"
)

// term is one stretch of leadership: the watcher and the dispatcher.
type term struct {
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// Establish starts leader-only work; the cluster's leader loop calls it once this node
// leads and has applied every entry committed before its term. It builds the deadline
// heap from the state machine and watches it from then on, then runs the watcher and
// the dispatcher until Revoke, or until ctx (the leadership) ends.
func (s *Service) Establish(ctx context.Context) error {
	s.termMu.Lock()
	defer s.termMu.Unlock()
	if s.term != nil {
		return ErrAlreadyRunning
	}
	// Before the watcher sees a deadline: those that fell while no write could be
	// accepted move first, so they never go late.
	s.bridgeOutage(ctx)
	s.cfg.Store.Watch(s)
	s.log.Info("leading: watching deadlines and sending notifications", "watched", s.watchedCount())
	ctx, cancel := context.WithCancel(ctx)
	t := &term{cancel: cancel}
	s.setActive(true)
	t.done.Go(func() { s.watch(ctx) })
	for lane := range lanes {
		t.done.Go(func() { s.dispatch(ctx, lane) })
	}
	t.done.Go(func() { s.tick(ctx) })
	t.done.Go(func() { s.watchHealth(ctx) })
	if s.cfg.HeartbeatURL != "" {
		t.done.Go(func() { s.heartbeat(ctx) })
	}
	s.term = t
	return nil
}

// Revoke stops the leader-only work and returns once its goroutines have: the leader
// loop calls it as soon as leadership is lost, before anything else.
func (s *Service) Revoke() {
	s.termMu.Lock()
	defer s.termMu.Unlock()
	if s.term == nil {
		return
	}
	s.term.cancel()
	s.term.done.Wait()
	s.term = nil
	s.cfg.Store.Unwatch(s)
	s.mu.Lock()
	s.dropChanges()
	s.heap.build(nil) // frees the entries: followers keep no watch state
	clear(s.inflight)
	s.mu.Unlock()
	s.setActive(false)
	s.log.Info("lost leadership: stopped the deadline watcher and the dispatcher")
}

func (s *Service) watchedCount() int {
	s.lockWatch()
	defer s.mu.Unlock()
	return s.heap.Len()
}
