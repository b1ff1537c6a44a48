package fsm

import "time"

// Kind is what a notification announces.
type Kind string

const (
	KindLate    Kind = "late"
	KindResumed Kind = "resumed"
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
}

func newNotification(seq uint64, kind Kind, at time.Time, c *Canary) Notification {
	return Notification{
		Seq:      seq,
		Kind:     kind,
		At:       at,
		CanaryID: c.ID,
		Name:     c.Name,
		Emails:   c.Emails,
		Deadline: c.Deadline,
		History:  c.History.Newest(notifyHistory),
	}
}
