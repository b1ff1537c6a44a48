package alerting

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coal-mine/coal-mine/fsm"
)

// Dispatcher tuning.
const (
	// sendChunk is how many records are sent before their delivery is acknowledged in
	// one NotificationSent: acks are batched, yet a long backlog is acked as it goes.
	sendChunk = 64
	// sendConcurrency is how many messages are sent at once.
	sendConcurrency = 8
	ackTimeout      = 10 * time.Second
	// outboxPage is how many records the dispatcher reads from the outbox at a time.
	outboxPage = 1024
	// maxFailureReason bounds the reason a notification-failed command carries.
	maxFailureReason = 300
)

// Two dispatchers share the outbox, each sending its own records: the canaries' and
// email channels' e-mails, and the webhook, Slack and PagerDuty channels. So a slow or
// dead web endpoint, waited for up to hookTimeout per attempt, never delays an e-mail.
const (
	mailLane = iota
	hookLane
	lanes
)

// laneOf is the dispatcher that sends a record: by its channel's kind.
func (s *Service) laneOf(r fsm.Notification) int {
	if r.Channel == "" {
		return mailLane
	}
	if ch, err := s.cfg.Store.Channel(r.Channel); err == nil && ch.Kind == fsm.ChannelEmail {
		return mailLane
	}
	return hookLane
}

// dispatcher sends the outbox. It lives for one term: a new leader starts afresh from
// the replicated outbox, which is what makes delivery at-least-once.
type dispatcher struct {
	s    *Service
	lane int // which records it sends (laneOf)
	// failures holds the records whose last send failed, with when to try again.
	failures map[uint64]*failure
	// delivered holds the records sent whose NotificationSent is not committed yet.
	delivered map[uint64]bool
}

type failure struct {
	attempts int
	// since is the first failed attempt; channel where the record goes.
	since   time.Time
	channel string
	next    time.Time
	// giveUp, once set, is why the record is dropped: it is recorded as failed (a
	// replicated command) in the next cycle.
	giveUp string
}

// dispatch sends the outbox until ctx is done: at once, whenever the outbox grows, and
// when a failed record is due to be retried.
func (s *Service) dispatch(ctx context.Context, lane int) {
	d := &dispatcher{s: s, lane: lane, failures: make(map[uint64]*failure), delivered: make(map[uint64]bool)}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		next := d.cycle(ctx)
		if next.IsZero() {
			timer.Stop()
		} else {
			timer.Reset(next.Sub(s.now()))
		}
		select {
		case <-ctx.Done():
			return
		case <-s.poke[lane]:
		case <-timer.C:
		}
	}
}

// cycle sends every record that is not waiting for a retry, oldest first, and
// acknowledges what was delivered. A canary's records go out in order: one that waits
// for a retry holds back the later ones of the same canary and channel, so a RESUMED never overtakes
// its LATE; one given up on is recorded as failed, which lets the later ones go. cycle
// returns when it wants to run again (zero: only when poked).
func (d *dispatcher) cycle(ctx context.Context) (next time.Time) {
	now := d.s.now()
	d.s.setCycling(d.lane, now)
	defer d.s.setCycling(d.lane, time.Time{})
	d.forgetGone()
	var todo, givenUp []fsm.Notification
	var acks []uint64
	waiting := make(map[string]bool) // (canary, channel) with a record waiting for a retry
	for after := uint64(0); ; {
		page := d.s.cfg.Store.OutboxPage(after, outboxPage)
		for _, r := range page {
			if d.s.laneOf(r) != d.lane {
				continue
			}
			switch f := d.failures[r.Seq]; {
			case d.delivered[r.Seq]:
				acks = append(acks, r.Seq)
			case waiting[queueOf(r)]:
			case f != nil && f.giveUp != "":
				givenUp = append(givenUp, r)
				waiting[queueOf(r)] = true
			case f != nil && f.next.After(now):
				waiting[queueOf(r)] = true
			default:
				todo = append(todo, r)
			}
		}
		if len(page) < outboxPage {
			break
		}
		after = page[len(page)-1].Seq
	}
	retrySoon := len(acks) > 0 && !d.ack(ctx, acks)
	if len(givenUp) > 0 {
		if d.recordFailures(ctx, givenUp) {
			// The records they held back can go now.
			next = d.s.now()
		} else {
			retrySoon = true
		}
	}
	for start := 0; start < len(todo) && ctx.Err() == nil; start += sendChunk {
		sent := d.sendAll(ctx, todo[start:min(start+sendChunk, len(todo))])
		if len(sent) > 0 && !d.ack(ctx, sent) {
			retrySoon = true
		}
	}
	if retrySoon {
		next = earliest(next, d.s.now().Add(d.s.cfg.RetryMin))
	}
	var oldest *failure
	for _, f := range d.failures {
		next = earliest(next, f.next)
		if oldest == nil || f.since.Before(oldest.since) {
			oldest = f
		}
	}
	d.s.setFailing(d.lane, oldest)
	return next
}

// forgetGone drops the state of records no longer in the outbox.
func (d *dispatcher) forgetGone() {
	for seq := range d.failures {
		if !d.s.cfg.Store.Pending(seq) {
			delete(d.failures, seq)
		}
	}
	for seq := range d.delivered {
		if !d.s.cfg.Store.Pending(seq) {
			delete(d.delivered, seq)
		}
	}
}

// recordFailures commits notification-failed for records given up on; it reports
// whether all were committed (the rest are tried again next cycle).
func (d *dispatcher) recordFailures(ctx context.Context, records []fsm.Notification) bool {
	ok := true
	for _, r := range records {
		reason := d.failures[r.Seq].giveUp
		actx, cancel := context.WithTimeout(ctx, ackTimeout)
		res, err := d.s.cfg.Proposer.Propose(actx, fsm.Command{
			Type:               fsm.TypeNotificationFailed,
			NotificationFailed: &fsm.NotificationFailed{Seq: r.Seq, Reason: reason},
		})
		cancel()
		if err == nil {
			err = res.Err
		}
		if err != nil {
			if ctx.Err() == nil {
				d.s.log.Warn("notification-failed not committed; retrying", "seq", r.Seq, "err", err)
			}
			ok = false
			continue
		}
		delete(d.failures, r.Seq)
		d.s.metrics.abandoned.WithLabelValues(string(r.Kind)).Inc()
		d.s.log.Error(fmt.Sprintf("gave up notifying for canary %s (%s, %s)", r.Name, r.CanaryID, r.Kind),
			"id", r.CanaryID, "seq", r.Seq, "reason", reason)
	}
	return ok
}

// outcome of one record in sendAll.
type outcome int

const (
	notTried outcome = iota // behind a failed record of the same canary
	delivered
	gone // acknowledged meanwhile
	failed
)

// sendAll sends records, several canaries at once but each canary's records in order,
// and returns the sequence numbers to acknowledge (delivered, or with no one to deliver
// to). After a failure, the canary's later records are not tried: they go out after it,
// in the cycle that retries it.
func (d *dispatcher) sendAll(ctx context.Context, records []fsm.Notification) (sent []uint64) {
	var lanes [][]int // indexes of records, one lane per canary, in outbox order
	lane := make(map[string]int)
	for i, r := range records {
		l, ok := lane[queueOf(r)]
		if !ok {
			l = len(lanes)
			lane[queueOf(r)] = l
			lanes = append(lanes, nil)
		}
		lanes[l] = append(lanes[l], i)
	}
	outcomes := make([]outcome, len(records))
	errs := make([]error, len(records))
	work := make(chan []int)
	var workers sync.WaitGroup
	for range min(len(lanes), sendConcurrency) {
		workers.Go(func() {
			for l := range work {
				for _, i := range l {
					outcomes[i], errs[i] = d.send(ctx, records[i])
					if outcomes[i] == failed {
						break
					}
				}
			}
		})
	}
	for _, l := range lanes {
		work <- l
	}
	close(work)
	workers.Wait()

	for i, r := range records {
		switch outcomes[i] {
		case delivered:
			delete(d.failures, r.Seq)
			d.delivered[r.Seq] = true
			sent = append(sent, r.Seq)
		case failed:
			// Leadership ending mid-send is not the record's fault, and the next leader
			// sends it anyway.
			if ctx.Err() == nil {
				d.failed(r, errs[i])
			}
		}
	}
	return sent
}

// send delivers one record.
func (d *dispatcher) send(ctx context.Context, r fsm.Notification) (outcome, error) {
	s := d.s
	if !s.cfg.Store.Pending(r.Seq) {
		return gone, nil
	}
	if r.Channel != "" {
		return d.sendToChannel(ctx, r)
	}
	return d.sendMail(ctx, r)
}

// sendMail e-mails one record to its addresses.
func (d *dispatcher) sendMail(ctx context.Context, r fsm.Notification) (outcome, error) {
	s := d.s
	msg := NewMessage(r, s.cfg.Sender).WithLinks(s.cfg.PublicURL, r)
	if len(r.Emails) == 0 {
		s.metrics.sent.WithLabelValues(string(r.Kind), "no_recipients").Inc()
		s.log.Info(fmt.Sprintf("no emails for canary %s (%s, %s)", r.Name, r.CanaryID, msg.Subject),
			"id", r.CanaryID, "kind", r.Kind, "seq", r.Seq)
		return delivered, nil
	}
	if err := s.cfg.Notifier.Notify(ctx, msg); err != nil {
		if ctx.Err() == nil {
			s.metrics.failures.WithLabelValues(string(r.Kind)).Inc()
		}
		return failed, err
	}
	s.metrics.sent.WithLabelValues(string(r.Kind), "sent").Inc()
	about := fmt.Sprintf("canary %s (%s, %s)", r.Name, r.CanaryID, msg.Subject)
	if r.CanaryID == "" {
		about = "the admins (" + msg.Subject + ")" // the cluster's own events
	}
	s.log.Info("notified for "+about,
		"id", r.CanaryID, "kind", r.Kind, "seq", r.Seq, "to", r.Emails, "message_id", msg.MessageID)
	return delivered, nil
}

// failed schedules a retry of a record with exponential backoff, or gives up on it: when
// every recipient was refused for good MaxRefusals times, or GiveUpAfter has passed since
// the transition it announces. Either way it no longer holds back its canary's later
// notifications.
func (d *dispatcher) failed(r fsm.Notification, err error) {
	f := d.failures[r.Seq]
	if f == nil {
		f = &failure{since: d.s.now(), channel: r.Channel}
		d.failures[r.Seq] = f
	}
	f.attempts++
	cfg := d.s.cfg
	now := d.s.now()
	refused := errors.Is(err, ErrNoRecipients)
	if (refused && f.attempts >= cfg.MaxRefusals) || now.Sub(r.At) >= cfg.GiveUpAfter {
		f.giveUp = truncate(err.Error(), maxFailureReason)
		f.next = now
		d.s.log.Warn(fmt.Sprintf("notify failed for canary %s (%s, %s): giving up", r.Name, r.CanaryID, r.Kind),
			"id", r.CanaryID, "seq", r.Seq, "err", err, "attempt", f.attempts, "refused", refused)
		return
	}
	wait := backoff(f.attempts, cfg.RetryMin, cfg.RetryMax)
	f.next = now.Add(wait)
	d.s.log.Warn(fmt.Sprintf("notify failed for canary %s (%s, %s)", r.Name, r.CanaryID, r.Kind),
		"id", r.CanaryID, "seq", r.Seq, "err", err, "attempt", f.attempts, "retry_in", wait)
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// ack commits NotificationSent for seqs. On failure they stay delivered and are acked
// again on the next cycle rather than sent again.
func (d *dispatcher) ack(ctx context.Context, seqs []uint64) bool {
	actx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	res, err := d.s.cfg.Proposer.Propose(actx, fsm.Command{
		Type:             fsm.TypeNotificationSent,
		NotificationSent: &fsm.NotificationSent{Seqs: seqs},
	})
	if err == nil {
		err = res.Err
	}
	if err != nil {
		if ctx.Err() == nil {
			d.s.log.Warn("notification-sent not committed; retrying", "seqs", len(seqs), "err", err)
		}
		return false
	}
	for _, seq := range seqs {
		delete(d.delivered, seq)
	}
	return true
}

// queueOf is the queue a record is delivered in, in order: one canary's records to one
// channel. A channel that keeps failing holds back only its own records, never the
// e-mails or another channel.
func queueOf(r fsm.Notification) string { return r.CanaryID + "\x00" + r.Channel }
