package fsm

import (
	"fmt"
	"time"
)

// apply runs one command with the lock held. It validates everything before it changes
// anything, so a command either applies whole or not at all.
func (f *FSM) apply(cmd *Command) Result {
	if cmd.Version < 1 || cmd.Version > CommandVersion {
		return Result{Err: fmt.Errorf("%w: %s version %d is not supported", ErrBadCommand, cmd.Type, cmd.Version)}
	}
	if cmd.Version < cmd.Needs() {
		return Result{Err: fmt.Errorf("%w: %s version %d cannot name a canary by slug", ErrBadCommand, cmd.Type, cmd.Version)}
	}
	at := cmd.At.UTC().Truncate(time.Microsecond)
	if at.Before(f.clock) {
		at = f.clock
	}
	var res Result
	switch {
	case cmd.Type == TypeCreate && cmd.Create != nil:
		res = f.create(at, cmd.Create)
	case cmd.Type == TypeUpdate && cmd.Update != nil:
		res = f.update(at, cmd.Update)
	case cmd.Type == TypeDelete && cmd.Delete != nil:
		res = f.delete(cmd.Delete)
	case cmd.Type == TypeTrigger && cmd.Trigger != nil:
		res = f.trigger(at, cmd.Trigger)
	case cmd.Type == TypePause && cmd.Pause != nil:
		res = f.pause(at, cmd.Pause)
	case cmd.Type == TypeUnpause && cmd.Unpause != nil:
		res = f.unpause(at, cmd.Unpause)
	case cmd.Type == TypeMarkLate && cmd.MarkLate != nil:
		res = f.markLate(at, cmd.MarkLate)
	case cmd.Type == TypeNotificationSent && cmd.NotificationSent != nil:
		res = f.notificationSent(cmd.NotificationSent)
	case cmd.Type == TypeNotificationFailed && cmd.NotificationFailed != nil:
		res = f.notificationFailed(at, cmd.NotificationFailed)
	case cmd.Type == TypeImport && cmd.Import != nil:
		res = f.importCanaries(cmd.Import)
	case cmd.Type == TypeSignal && cmd.Signal != nil:
		res = f.signal(at, cmd.Signal, false)
	case cmd.Type == TypeExpirePause && cmd.ExpirePause != nil:
		res = f.expirePause(at, cmd.ExpirePause)
	case cmd.Type == TypeAdminEvent && cmd.AdminEvent != nil:
		res = f.adminEvent(at, cmd.AdminEvent)
	case cmd.Type == TypeChannelPut && cmd.ChannelPut != nil:
		res = f.channelPut(cmd.ChannelPut)
	case cmd.Type == TypeChannelDelete && cmd.ChannelDelete != nil:
		res = f.channelDelete(cmd.ChannelDelete)
	case cmd.Type == TypeRenotify && cmd.Renotify != nil:
		res = f.renotify(at, cmd.Renotify)
	case cmd.Type == TypeTick && cmd.Tick != nil:
		res = Result{Changed: true}
	case cmd.Type == TypeOutage && cmd.Outage != nil:
		res = f.outage(at, cmd.Outage)
	default:
		return Result{Err: fmt.Errorf("%w: unknown or empty command %q", ErrBadCommand, cmd.Type)}
	}
	if res.Err == nil {
		f.clock = at
	}
	return res
}

func (f *FSM) create(at time.Time, c *Create) Result {
	if !validID(c.ID) {
		return Result{Err: invalid("id must be eight lower-case letters")}
	}
	if f.lookup(c.ID) != nil {
		return Result{Err: ErrIDTaken}
	}
	if err := validateName(c.Name); err != nil {
		return Result{Err: err}
	}
	slug := Slug(c.Name)
	if other, ok := f.slugs[slug]; ok {
		return Result{Err: fmt.Errorf("%w: canary %s already exists with identifier %s", ErrAlreadyExists, slug, other)}
	}
	job := withSettings(nil, &c.Settings)
	if err := validateTiming(c.Periodicity, job, c.MinPeriodicity); err != nil {
		return Result{Err: err}
	}
	if err := f.validateCanaryChannels(job); err != nil {
		return Result{Err: err}
	}
	if err := validateDescription(c.Description); err != nil {
		return Result{Err: err}
	}
	if err := validateEmails(c.Emails); err != nil {
		return Result{Err: err}
	}
	canary := &Canary{
		ID:          c.ID,
		Name:        c.Name,
		Slug:        slug,
		Description: c.Description,
		Periodicity: c.Periodicity,
		Emails:      nonNil(c.Emails),
		Paused:      c.Paused,
		History:     NewHistory(NewHistoryEntry(at, createdComment)),
		Job:         job,
	}
	if !c.Paused {
		deadline, err := expected(c.Periodicity, job, at)
		if err != nil {
			return Result{Err: err}
		}
		canary.Deadline = deadline
	}
	f.store(canary)
	return Result{Canary: canary, Changed: true}
}

func (f *FSM) update(at time.Time, u *Update) Result {
	old := f.target(u.ID, u.Slug)
	if old == nil {
		return Result{Err: ErrNotFound}
	}
	c := *old
	changed := false
	if u.Name != nil && *u.Name != old.Name {
		if err := validateName(*u.Name); err != nil {
			return Result{Err: err}
		}
		slug := Slug(*u.Name)
		if other, ok := f.slugs[slug]; ok && other != old.ID {
			return Result{Err: fmt.Errorf("%w: canary %s already exists with identifier %s", ErrAlreadyExists, slug, other)}
		}
		c.Name, c.Slug, changed = *u.Name, slug, true
	}
	// A change of timing (periodicity, cron, zone, grace) re-bases the deadline.
	if u.Periodicity != nil && u.Cron != nil && *u.Cron != "" {
		return Result{Err: invalid("give a periodicity or a cron, not both")}
	}
	job := withSettings(old.Job, &u.Settings)
	timing := u.Periodicity != nil && *u.Periodicity != old.Periodicity
	if u.Periodicity != nil && job != nil && job.Cron != "" {
		job.Cron, timing = "", true // a periodicity replaces a cron
	}
	if job != nil && job.Cron != "" && old.Cron() != job.Cron {
		c.Periodicity, timing = Periodicity{}, true // a cron replaces a periodicity
	} else if u.Periodicity != nil {
		c.Periodicity = *u.Periodicity
	}
	job = compact(job)
	if !sameSettings(job, old.Job) {
		if err := validateJobSettings(job); err != nil {
			return Result{Err: err}
		}
		if err := f.validateCanaryChannels(job); err != nil {
			return Result{Err: err}
		}
		timing = timing || !sameTiming(job, old.Job)
		c.Job, changed = job, true
	}
	notify := Kind("")
	if timing {
		minPeriodicity := u.MinPeriodicity
		if u.Periodicity == nil || *u.Periodicity == old.Periodicity {
			minPeriodicity = 0 // the floor is for a periodicity this update sets
		}
		if err := validateTiming(c.Periodicity, c.Job, minPeriodicity); err != nil {
			return Result{Err: err}
		}
		changed = true
		if !c.Paused {
			// The original re-bases the deadline on the newest history entry and
			// re-evaluates lateness at once, notifying on a change either way. A
			// failure is not about time: it stays until a success.
			deadline, err := expected(c.Periodicity, c.Job, old.LastEvent())
			if err != nil {
				return Result{Err: err}
			}
			c.Deadline = deadline
			// LateAt: a started run past its max runtime stays late whatever the
			// new deadline.
			if late := c.LateAt().Before(at); late != old.Late && !old.failed() {
				c.Late = late
				notify = KindResumed
				if late {
					notify = KindLate
				}
			}
		}
	}
	if u.Description != nil && *u.Description != old.Description {
		if err := validateDescription(*u.Description); err != nil {
			return Result{Err: err}
		}
		c.Description, changed = *u.Description, true
	}
	if u.Emails != nil && !sameSet(*u.Emails, old.Emails) {
		if err := validateEmails(*u.Emails); err != nil {
			return Result{Err: err}
		}
		c.Emails, changed = nonNil(*u.Emails), true
	}
	if !changed {
		return Result{Err: ErrNoUpdates}
	}
	if notify == KindLate || (c.Late && c.Job != nil && c.Job.Renotify > 0 && c.Job.Notified.IsZero()) {
		c.alerted(at) // a renotify set on a late canary counts from now
	}
	if c.Slug != old.Slug {
		delete(f.slugs, old.Slug)
	}
	f.store(&c)
	if notify != "" {
		f.enqueue(notify, at, &c)
	}
	return Result{Canary: &c, Changed: true}
}

func (f *FSM) delete(d *Delete) Result {
	c := f.target(d.ID, d.Slug)
	if c == nil {
		return Result{Err: ErrNotFound}
	}
	f.canaries.Delete(c)
	f.counts.add(c, -1)
	delete(f.slugs, c.Slug)
	if f.observer != nil {
		f.observer.DeadlineChanged(c.ID, time.Time{}, false)
	}
	return Result{Changed: true}
}

func (f *FSM) trigger(at time.Time, t *Trigger) Result {
	old := f.target(t.ID, t.Slug)
	if old == nil {
		return Result{Err: ErrNotFound}
	}
	if err := validateComment(t.Comment); err != nil {
		return Result{Err: err}
	}
	if old.Job != nil {
		// A plain trigger is a success: it ends a run started without a run id.
		return f.signal(at, &Signal{ID: old.ID, Kind: SignalSuccess, ExitStatus: -1, Comment: t.Comment}, true)
	}
	deadline, err := old.Periodicity.Deadline(at)
	if err != nil {
		return Result{Err: err}
	}
	c := *old
	c.History = old.History.add(at, withComment(triggerComment, t.Comment))
	c.Deadline = deadline
	c.Late = false
	c.Paused = false
	f.store(&c)
	if old.Late {
		f.enqueue(KindResumed, at, &c)
	}
	return Result{Canary: &c, Recovered: old.Late, Unpaused: old.Paused, Changed: true}
}

// pause keeps the late flag: only a trigger clears it, so LATE and RESUMED mails come in
// pairs (the original server's observed behaviour).
func (f *FSM) pause(at time.Time, p *Pause) Result {
	old := f.target(p.ID, p.Slug)
	if old == nil {
		return Result{Err: ErrNotFound}
	}
	if old.Paused {
		return Result{Err: ErrAlreadyPaused}
	}
	if err := validateComment(p.Comment); err != nil {
		return Result{Err: err}
	}
	verb := pauseComment
	job := old.Job
	if !p.Until.IsZero() || (job != nil && !job.PausedUntil.IsZero()) {
		job = old.job()
		job.PausedUntil = p.Until.UTC().Truncate(time.Microsecond)
		if !job.PausedUntil.IsZero() {
			if !job.PausedUntil.After(at) {
				return Result{Err: invalid("until must be in the future")}
			}
			if job.PausedUntil.Sub(at) > maxPause {
				return Result{Err: invalid("a timed pause can last at most ten years")}
			}
			verb = pauseComment + " until " + job.PausedUntil.Format(time.RFC3339)
		}
		job = compact(job)
	}
	c := *old
	c.Paused = true
	c.Deadline = time.Time{}
	c.Job = job
	c.History = old.History.add(at, withComment(verb, p.Comment))
	f.store(&c)
	return Result{Canary: &c, Changed: true}
}

func (f *FSM) unpause(at time.Time, u *Unpause) Result {
	old := f.target(u.ID, u.Slug)
	if old == nil {
		return Result{Err: ErrNotFound}
	}
	if !old.Paused {
		return Result{Err: ErrAlreadyUnpaused}
	}
	if err := validateComment(u.Comment); err != nil {
		return Result{Err: err}
	}
	return f.resume(at, old, withComment(unpauseComment, u.Comment))
}

// resume unpauses a canary: a new deadline from at, and no timed pause left.
func (f *FSM) resume(at time.Time, old *Canary, comment string) Result {
	deadline, err := expected(old.Periodicity, old.Job, at)
	if err != nil {
		return Result{Err: err}
	}
	c := *old
	c.Paused = false
	c.Deadline = deadline
	if old.Job != nil && !old.Job.PausedUntil.IsZero() {
		job := old.job()
		job.PausedUntil = time.Time{}
		c.Job = compact(job)
	}
	c.History = old.History.add(at, comment)
	f.store(&c)
	return Result{Canary: &c, Changed: true}
}

// markLate sets late only if the command's time is still at or past the canary's current
// deadline: a trigger that won the race moved the deadline and makes this a no-op.
// A started run past its max runtime makes it late the same way, with its own message.
func (f *FSM) markLate(at time.Time, m *MarkLate) Result {
	old := f.lookup(m.ID)
	if old == nil || old.Paused || old.Late {
		return Result{}
	}
	lateAt := old.LateAt()
	if lateAt.IsZero() || at.Before(lateAt) {
		return Result{}
	}
	kind := KindLate
	if over, ok := old.overrunAt(); ok && over.Equal(lateAt) && !over.Equal(old.Deadline) {
		kind = KindOverran
	}
	c := *old
	c.Late = true
	c.alerted(at)
	f.store(&c)
	f.enqueue(kind, at, &c)
	return Result{Canary: &c, Changed: true}
}

func (f *FSM) notificationSent(n *NotificationSent) Result {
	for _, seq := range n.Seqs {
		delete(f.outbox, seq)
	}
	f.order.trim(f.outbox)
	return Result{Changed: true}
}

// notificationFailed drops a record the dispatcher gave up on, and says so in its
// canary's history, so that the canary's later notifications go out and the operator
// sees which one never did.
func (f *FSM) notificationFailed(at time.Time, n *NotificationFailed) Result {
	record, ok := f.outbox[n.Seq]
	if !ok {
		return Result{} // sent or dropped meanwhile
	}
	delete(f.outbox, n.Seq)
	f.order.trim(f.outbox)
	if old := f.lookup(record.CanaryID); old != nil {
		c := *old
		c.History = old.History.add(at, failedNotificationComment(record.Channel, record.Kind, n.Reason))
		f.store(&c)
		return Result{Canary: &c, Changed: true}
	}
	return Result{Changed: true}
}

// store inserts or replaces a canary and tells the observer about its deadline.
func (f *FSM) store(c *Canary) {
	old, _ := f.canaries.ReplaceOrInsert(c)
	f.counts.add(old, -1)
	f.counts.add(c, 1)
	f.slugs[c.Slug] = c.ID
	if f.observer != nil {
		wake, ok := c.Wake()
		f.observer.DeadlineChanged(c.ID, wake, ok)
	}
}

// enqueue appends the records of one event: one for the canary's own addresses (as
// the original sends), and one per channel it goes to, so that each is delivered,
// retried and given up on by itself.
func (f *FSM) enqueue(kind Kind, at time.Time, c *Canary) {
	n := newNotification(0, kind, at, c)
	f.push(n)
	for _, ch := range f.channelsFor(c) {
		f.push(n.to(ch))
	}
}

// push appends one record with the next sequence number.
func (f *FSM) push(n Notification) {
	n.Seq = f.nextSeq
	f.nextSeq++
	f.outbox[n.Seq] = n
	f.order.push(n.Seq)
	if f.observer != nil {
		f.observer.OutboxChanged()
	}
}

// enqueueFailure appends a failure's records, with its exit status.
func (f *FSM) enqueueFailure(at time.Time, c *Canary, status int) {
	n := newNotification(0, KindFailed, at, c)
	n.ExitStatus = status
	f.push(n)
	for _, ch := range f.channelsFor(c) {
		f.push(n.to(ch))
	}
}

// target finds the canary a command names: by id, or by slug when id is empty.
func (f *FSM) target(id, slug string) *Canary {
	if id == "" {
		var ok bool
		if id, ok = f.slugs[slug]; !ok {
			return nil
		}
	}
	return f.lookup(id)
}

func (f *FSM) lookup(id string) *Canary {
	c, _ := f.canaries.Get(&Canary{ID: id})
	return c
}

func sameSet(a, b []string) bool {
	in := make(map[string]bool, len(a))
	for _, s := range a {
		in[s] = true
	}
	seen := make(map[string]bool, len(b))
	for _, s := range b {
		if !in[s] {
			return false
		}
		seen[s] = true
	}
	return len(seen) == len(in)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
