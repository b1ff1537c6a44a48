package alerting

import (
	"context"
	"sync"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
)

// Watcher tuning.
const (
	// maxTake bounds how many due entries one pass takes, so the lock the observer
	// shares is never held long; the rest are taken on the next pass at once.
	maxTake = 4096
	// maxProposing is how many mark-late proposals are waiting at once. The proposer
	// groups what waits together into one log entry, so this is what lets thousands of
	// canaries that are due at the same second go out in a handful of entries.
	maxProposing = 1024
	// proposeTimeout bounds one proposal; a failed one is retried with backoff.
	proposeTimeout   = 10 * time.Second
	markLateRetryMin = 100 * time.Millisecond
	markLateRetryMax = 10 * time.Second
)

// watch runs the deadline timer until ctx is done: one timer, set to the earliest due
// entry of the heap, and on every wake-up a proposal of mark-late for each entry due.
func (s *Service) watch(ctx context.Context) {
	var proposals sync.WaitGroup
	defer proposals.Wait()
	defer s.disarm()
	slots := make(chan struct{}, maxProposing)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		now := s.now()
		due, next := s.takeDue(now)
		if len(due) > 0 {
			proposals.Go(func() { s.proposeLate(ctx, slots, due) })
		}
		if next.IsZero() {
			timer.Stop()
		} else {
			timer.Reset(next.Sub(now))
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// takeDue removes the entries due at now from the heap, records them as in flight, and
// arms the watcher for the next one. It returns that next due time (zero: none).
func (s *Service) takeDue(now time.Time) (due []*entry, next time.Time) {
	s.lockWatch()
	defer s.mu.Unlock()
	for len(due) < maxTake {
		e := s.heap.peek()
		if e == nil || e.dueTime().After(now) {
			break
		}
		s.heap.pop()
		s.inflight[e.id] = e.deadlineTime()
		due = append(due, e)
	}
	if e := s.heap.peek(); e != nil {
		next = e.dueTime()
	}
	s.armed = next
	return due, next
}

func (s *Service) disarm() {
	s.mu.Lock()
	s.armed = time.Time{}
	s.mu.Unlock()
}

// proposeLate proposes mark-late for every entry at once, with at most maxProposing
// proposals of the term waiting (slots), so that the proposer can group them.
func (s *Service) proposeLate(ctx context.Context, slots chan struct{}, due []*entry) {
	var proposals sync.WaitGroup
	defer proposals.Wait()
	for _, e := range due {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			// Leadership ended: what was not proposed goes back for the next term.
			s.retryLater(e)
			continue
		}
		proposals.Go(func() {
			defer func() { <-slots }()
			s.markLate(ctx, e)
		})
	}
}

// markLate proposes one mark-late and settles the entry: done, or back in the heap.
func (s *Service) markLate(ctx context.Context, e *entry) {
	pctx, cancel := context.WithTimeout(ctx, proposeTimeout)
	defer cancel()
	cmd := fsm.Command{Type: fsm.TypeMarkLate, MarkLate: &fsm.MarkLate{ID: e.id, Deadline: e.deadlineTime()}}
	if c, err := s.cfg.Store.Get(e.id); err == nil && c.Paused {
		// What is due on a paused canary is the end of its timed pause.
		cmd = fsm.Command{Type: fsm.TypeExpirePause, ExpirePause: &fsm.ExpirePause{ID: e.id, Until: e.deadlineTime()}}
	} else if err == nil && c.Late {
		// On a late one, its renotify.
		cmd = fsm.Command{Type: fsm.TypeRenotify, Renotify: &fsm.Renotify{ID: e.id}}
	}
	res, err := s.cfg.Proposer.Propose(pctx, cmd)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			s.log.Warn("mark-late not committed; retrying", "id", e.id, "deadline", e.deadlineTime(), "err", err)
		}
		s.retryLater(e)
	case res.Err != nil:
		// Committed but rejected: the state machine will not change its mind.
		s.settle(e)
		s.log.Error("mark-late rejected", "id", e.id, "err", res.Err)
	case res.Changed && cmd.Renotify != nil:
		s.settle(e)
		s.log.Info("canary is still late: alert repeated", "id", e.id)
	case res.Changed && cmd.ExpirePause != nil:
		s.settle(e)
		s.log.Info("timed pause ended", "id", e.id, "until", e.deadlineTime())
	case res.Changed:
		s.settle(e)
		name := ""
		if res.Canary != nil {
			name = res.Canary.Name
		}
		delay := s.now().Sub(e.deadlineTime())
		s.metrics.lateness.Observe(delay.Seconds())
		s.log.Info("canary is late", "id", e.id, "name", name, "deadline", e.deadlineTime(),
			"delay", delay.Round(time.Microsecond))
	default:
		// A no-op: usually a trigger, pause or delete won the race, and the observer has
		// already replaced or removed the entry. If the canary is still watched at the
		// same deadline, the proposer's clock was behind ours: try again shortly.
		if s.stillDue(e) {
			s.retryLater(e)
			return
		}
		s.settle(e)
	}
}

// stillDue reports whether the store still watches the canary at the entry's deadline.
func (s *Service) stillDue(e *entry) bool {
	c, err := s.cfg.Store.Get(e.id)
	if err != nil {
		return false
	}
	wake, ok := c.Wake()
	return ok && wake.Equal(e.deadlineTime())
}

// settle forgets an in-flight entry.
func (s *Service) settle(e *entry) {
	s.lockWatch()
	defer s.mu.Unlock()
	if d, ok := s.inflight[e.id]; ok && d.Equal(e.deadlineTime()) {
		delete(s.inflight, e.id)
	}
}

// retryLater puts an in-flight entry back with backoff, unless the canary changed in
// the meantime (the observer then dropped it from inflight and set the heap itself).
func (s *Service) retryLater(e *entry) {
	s.lockWatch()
	defer s.mu.Unlock()
	d, ok := s.inflight[e.id]
	if !ok || !d.Equal(e.deadlineTime()) {
		return
	}
	delete(s.inflight, e.id)
	e.attempts++
	e.due = s.now().Add(backoff(int(e.attempts), markLateRetryMin, markLateRetryMax)).UnixMicro()
	s.heap.put(e)
	s.wakeIfEarlierLocked(e.dueTime())
}
