package alerting

import (
	"context"
	"sync"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
)

// The watcher of the watcher: the leader tells the admins when a voter has been
// unreachable for MemberDownAfter and when it is back, and when notifications have
// been failing for FailingAfter. Which voters were reported down is replicated: a new
// leader reports only their return. Failing notifications are this leader's own (its
// dispatcher's attempts): a new leader reports a failure that goes on once more.

// healthEvery is how often the leader looks.
const healthEvery = 5 * time.Second

// Member is one voter as the leader sees it.
type Member struct {
	ID string
	Up bool
}

// cyclingSince is when the dispatcher's current cycle began (zero: between cycles).
func (s *Service) setCycling(lane int, t time.Time) {
	f := &s.failing[lane]
	f.mu.Lock()
	f.cycling = t
	f.mu.Unlock()
}

// stuck names the part of this leader that is stuck, and since when ("" if none): the
// watcher, if a deadline is overdue by WatcherStuckAfter without being taken; the
// dispatcher, if one cycle has run for DispatcherStuckAfter.
func (s *Service) stuck(now time.Time) (string, time.Time) {
	s.lockWatch()
	e := s.heap.peek()
	s.mu.Unlock()
	if e != nil && now.Sub(e.dueTime()) >= s.cfg.WatcherStuckAfter {
		return "the deadline watcher", e.dueTime()
	}
	for lane := range s.failing {
		f := &s.failing[lane]
		f.mu.Lock()
		cycling := f.cycling
		f.mu.Unlock()
		if !cycling.IsZero() && now.Sub(cycling) >= s.cfg.DispatcherStuckAfter {
			return "the dispatcher", cycling
		}
	}
	return "", time.Time{}
}

// failingState is the oldest failing record the dispatcher holds, shared with the
// health watcher.
type failingState struct {
	mu      sync.Mutex
	since   time.Time
	channel string
	cycling time.Time // the dispatcher's current cycle began
}

func (s *Service) setFailing(lane int, f *failure) {
	st := &s.failing[lane]
	st.mu.Lock()
	defer st.mu.Unlock()
	if f == nil {
		st.since, st.channel = time.Time{}, ""
		return
	}
	st.since, st.channel = f.since, f.channel
}

// oldestFailing is the oldest failing record of either dispatcher.
func (s *Service) oldestFailing() (since time.Time, channel string) {
	for lane := range s.failing {
		st := &s.failing[lane]
		st.mu.Lock()
		if !st.since.IsZero() && (since.IsZero() || st.since.Before(since)) {
			since, channel = st.since, st.channel
		}
		st.mu.Unlock()
	}
	return since, channel
}

// watchHealth runs for one term.
func (s *Service) watchHealth(ctx context.Context) {
	downSince := map[string]time.Time{}
	reported := map[string]bool{}
	for id, since := range s.cfg.Store.MembersReportedDown() {
		downSince[id], reported[id] = since, true
	}
	failingReported, handedOver := false, false
	t := time.NewTicker(healthEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := s.now()
		if s.cfg.Members != nil {
			for _, m := range s.cfg.Members() {
				switch {
				case !m.Up && downSince[m.ID].IsZero():
					downSince[m.ID] = now
				case !m.Up && !reported[m.ID] && now.Sub(downSince[m.ID]) >= s.cfg.MemberDownAfter:
					reported[m.ID] = s.adminEvent(ctx, fsm.KindMemberDown, m.ID, downSince[m.ID])
				case m.Up && reported[m.ID]:
					reported[m.ID] = !s.adminEvent(ctx, fsm.KindMemberUp, m.ID, downSince[m.ID])
					if !reported[m.ID] {
						delete(downSince, m.ID)
					}
				case m.Up:
					delete(downSince, m.ID)
				}
			}
		}
		if part, since := s.stuck(now); part != "" && !handedOver && s.cfg.HandOver != nil {
			handedOver = true
			s.log.Error("this leader cannot alert: "+part+" is stuck; handing leadership over", "since", since)
			s.adminEvent(ctx, fsm.KindLeaderStuck, part, since)
			if err := s.cfg.HandOver(ctx); err != nil {
				s.log.Error("could not hand leadership over", "err", err)
			}
		}
		since, channel := s.oldestFailing()
		switch {
		case since.IsZero():
			failingReported = false
		case !failingReported && now.Sub(since) >= s.cfg.FailingAfter:
			if channel == "" {
				channel = "e-mail"
			}
			failingReported = s.adminEvent(ctx, fsm.KindNotificationsFailing, channel, since)
		}
	}
}

// adminEvent commits one admin event; it reports whether it was committed.
func (s *Service) adminEvent(ctx context.Context, kind fsm.Kind, subject string, since time.Time) bool {
	pctx, cancel := context.WithTimeout(ctx, proposeTimeout)
	defer cancel()
	res, err := s.cfg.Proposer.Propose(pctx, fsm.Command{Type: fsm.TypeAdminEvent, AdminEvent: &fsm.AdminEvent{
		Kind: kind, Subject: subject, Since: since, AdminEmails: s.cfg.AdminEmails}})
	if err == nil {
		err = res.Err
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("admin event not committed; retrying", "kind", kind, "subject", subject, "err", err)
		}
		return false
	}
	s.log.Warn("admin event", "kind", kind, "subject", subject, "since", since)
	return true
}
