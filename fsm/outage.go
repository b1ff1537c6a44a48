package fsm

import (
	"fmt"
	"maps"
	"slices"
	"time"
	"unicode/utf8"
)

// outageComment is the history entry of a deadline an outage moved.
func outageComment(from, to time.Time) string {
	return "Deadline moved: monitor unavailable " + from.UTC().Format(time.RFC3339) + " to " + to.UTC().Format(time.RFC3339)
}

// outage moves every deadline that fell in (From, To] by the gap's length, so that a
// canary is not late for a trigger the cluster could not have recorded. A canary late,
// paused, or due before From is left alone: it was late before the outage, or it is not
// watched. The outage record goes to the admin addresses, if any.
func (f *FSM) outage(at time.Time, o *Outage) Result {
	from, to := o.From.UTC().Truncate(time.Microsecond), o.To.UTC().Truncate(time.Microsecond)
	if !to.After(from) {
		return Result{Err: invalid("an outage must end after it starts")}
	}
	if err := validateEmails(o.AdminEmails); err != nil {
		return Result{Err: err}
	}
	gap := to.Sub(from)
	var moved []*Canary
	f.canaries.Ascend(func(c *Canary) bool {
		if c.Paused || c.Late || c.Deadline.IsZero() || !c.Deadline.After(from) || c.Deadline.After(to) {
			return true
		}
		m := *c
		m.Deadline = c.Deadline.Add(gap)
		m.History = c.History.add(at, outageComment(from, to))
		moved = append(moved, &m)
		return true
	})
	for _, c := range moved {
		f.store(c)
	}
	f.toAdmins(Notification{Kind: KindOutage, At: to, Deadline: from, Emails: o.AdminEmails})
	return Result{Changed: true}
}

// adminEvent queues an event about the cluster to the admin addresses and channels.
func (f *FSM) adminEvent(at time.Time, e *AdminEvent) Result {
	switch e.Kind {
	case KindMemberDown, KindMemberUp, KindNotificationsFailing, KindLeaderStuck:
	default:
		return Result{Err: invalid(fmt.Sprintf("unknown admin event %q", e.Kind))}
	}
	if len(e.Subject) > maxNameLength || !utf8.ValidString(e.Subject) {
		return Result{Err: invalid("admin event subject too long or not UTF-8")}
	}
	if err := validateEmails(e.AdminEmails); err != nil {
		return Result{Err: err}
	}
	since := e.Since.UTC().Truncate(time.Microsecond)
	switch e.Kind {
	case KindMemberDown:
		if _, known := f.down[e.Subject]; known || len(f.down) < maxReportedDown {
			f.down[e.Subject] = since
		}
	case KindMemberUp:
		delete(f.down, e.Subject)
	}
	f.toAdmins(Notification{Kind: e.Kind, At: at, Name: e.Subject, Deadline: since, Emails: e.AdminEmails})
	return Result{Changed: true}
}

// MembersReportedDown returns the voters reported down and not yet back, with when each
// went down.
func (f *FSM) MembersReportedDown() map[string]time.Time {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return maps.Clone(f.down)
}

// maxReportedDown bounds the voters remembered as reported down (a cluster has a handful).
const maxReportedDown = 1000

// memberReport is one voter reported down, as a snapshot holds it.
type memberReport struct {
	id    string
	since time.Time
}

func sortedReports(down map[string]time.Time) []memberReport {
	out := make([]memberReport, 0, len(down))
	for _, id := range slices.Sorted(maps.Keys(down)) {
		out = append(out, memberReport{id, down[id]})
	}
	return out
}

// toAdmins queues n to the admin addresses (if any) and to every admin channel.
func (f *FSM) toAdmins(n Notification) {
	if len(n.Emails) > 0 {
		f.push(n)
	}
	for _, ch := range f.sortedChannels(func(ch *Channel) bool { return ch.Admin }) {
		f.push(n.to(ch))
	}
}

// Clock is the newest command time applied: the last moment the cluster is known to
// have accepted a write. The leader's ticks keep it fresh while nothing else happens.
func (f *FSM) Clock() time.Time {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.clock
}
