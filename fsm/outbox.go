package fsm

import (
	"slices"
	"sort"
	"time"
)

// Kind is what a notification announces.
type Kind string

const (
	KindLate    Kind = "late"
	KindResumed Kind = "resumed"
	// KindFailed: the job reported a failure (ExitStatus, -1 when it gave none).
	KindFailed Kind = "failed"
	// KindOverran: a started run passed the canary's max runtime.
	KindOverran Kind = "overran"
	// KindOutage: the cluster accepted no writes from Deadline to At. It belongs to no
	// canary (CanaryID is empty) and goes to the admin addresses.
	KindOutage Kind = "outage"
	// KindRepeat: the canary is still late, renotify after its last alert.
	KindRepeat Kind = "repeat"
	// Admin events about the cluster itself (no canary: Name is what they are about,
	// Deadline when it began): a voter unreachable, back, notifications failing.
	KindMemberDown           Kind = "member_down"
	KindMemberUp             Kind = "member_up"
	KindNotificationsFailing Kind = "notifications_failing"
	KindLeaderStuck          Kind = "leader_stuck"
)

// Notification is an outbox record: appended by Apply on a late or resumed transition,
// sent by the leader's dispatcher, removed by a NotificationSent command. It carries
// everything the message needs, so it can be sent even after the canary changed again
// or was deleted.
type Notification struct {
	Seq      uint64         `json:"seq"`
	Kind     Kind           `json:"kind"`
	At       time.Time      `json:"at"`
	CanaryID string         `json:"canary_id"`
	Name     string         `json:"name"`
	Emails   []string       `json:"emails,omitempty"`
	Deadline time.Time      `json:"deadline,omitzero"`
	History  []HistoryEntry `json:"history"` // newest first, at most 15
	// ExitStatus is a failure's exit status (KindFailed only; -1: not given).
	ExitStatus int `json:"exit_status,omitempty"`
	// Channel is the channel the record goes to; "" is the canary's own addresses
	// (Emails). An email channel's addresses are in Emails too.
	Channel string `json:"channel,omitempty"`
}

// admin reports whether k is one of the cluster's own events.
func (k Kind) admin() bool {
	return k == KindMemberDown || k == KindMemberUp || k == KindNotificationsFailing || k == KindLeaderStuck
}

// to is a copy of n for one channel.
func (n Notification) to(ch *Channel) Notification {
	n.Channel, n.Emails = ch.Name, nil
	if ch.Kind == ChannelEmail {
		n.Emails = ch.Emails
	}
	return n
}

func newNotification(seq uint64, kind Kind, at time.Time, c *Canary) Notification {
	return Notification{
		Seq:      seq,
		Kind:     kind,
		At:       at,
		CanaryID: c.ID,
		Name:     c.Name,
		Emails:   c.Emails,
		Deadline: c.LateAt(),
		History:  c.History.Newest(notifyHistory),
	}
}

// outboxOrder keeps the outbox's sequence numbers in ascending order, so that the
// dispatcher reads the outbox a page at a time, oldest first, without copying and
// sorting all of it. Records are appended in sequence order and usually removed from the
// front; one removed out of order leaves a hole that readers skip and that goes when
// the records before it do, or when holes outnumber records.
type outboxOrder struct {
	seqs []uint64
}

func newOutboxOrder(outbox map[uint64]Notification) outboxOrder {
	seqs := make([]uint64, 0, len(outbox))
	for seq := range outbox {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	return outboxOrder{seqs: seqs}
}

func (o *outboxOrder) push(seq uint64) { o.seqs = append(o.seqs, seq) }

// trim drops the holes at the front, and compacts when holes outnumber live records
// (a record stuck at the front while many behind it went).
func (o *outboxOrder) trim(outbox map[uint64]Notification) {
	i := 0
	for i < len(o.seqs) {
		if _, ok := outbox[o.seqs[i]]; ok {
			break
		}
		i++
	}
	o.seqs = o.seqs[i:]
	if len(o.seqs) > 2*len(outbox)+64 {
		live := make([]uint64, 0, len(outbox))
		for _, seq := range o.seqs {
			if _, ok := outbox[seq]; ok {
				live = append(live, seq)
			}
		}
		o.seqs = live
	}
}

// page returns up to limit records with a sequence number above after, in order.
func (o *outboxOrder) page(outbox map[uint64]Notification, after uint64, limit int) []Notification {
	start := sort.Search(len(o.seqs), func(i int) bool { return o.seqs[i] > after })
	var out []Notification
	for _, seq := range o.seqs[start:] {
		if len(out) == limit {
			break
		}
		if n, ok := outbox[seq]; ok {
			out = append(out, n)
		}
	}
	return out
}
