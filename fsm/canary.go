package fsm

import (
	"strings"
	"time"
	"unicode"
)

// Canary is one monitored task. Values handed out by the FSM are immutable: Apply never
// changes a *Canary once it is stored, it stores a modified copy. Readers may therefore
// keep and read a *Canary without locks or copies, but must never modify one.
type Canary struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Slug        string      `json:"slug"`
	Description string      `json:"description"`
	Periodicity Periodicity `json:"periodicity"`
	Emails      []string    `json:"emails"`
	Late        bool        `json:"late"`
	Paused      bool        `json:"paused"`
	// Deadline is zero while the canary is paused.
	Deadline time.Time `json:"deadline,omitzero"`
	// History is kept oldest first so that a trigger appends; NewestFirst gives the
	// order the API shows.
	History History `json:"history"`
	// Job holds the settings and signal state beyond the original's (job.go); nil when
	// the canary uses none.
	Job *Job `json:"job,omitempty"`
}

// Limits of the history, from the original's pruning rule: more than 1000 entries, or
// more than 100 entries with the oldest older than a week.
const (
	historyMax      = 1000
	historyKeep     = 100
	historyMaxAge   = 7 * 24 * time.Hour
	notifyHistory   = 15
	createdComment  = "Canary created"
	triggerComment  = "Triggered"
	pauseComment    = "Paused"
	unpauseComment  = "Unpaused"
	maxNameLength   = 1024
	maxFieldLength  = 64 * 1024
	maxEmails       = 100
	maxCommentBytes = 4096
)

// NewestFirst returns the history newest first, as the API and e-mails show it.
func (c *Canary) NewestFirst() []HistoryEntry { return c.History.NewestFirst() }

// LastEvent is the time of the newest history entry.
func (c *Canary) LastEvent() time.Time {
	last, ok := c.History.Last()
	if !ok {
		return time.Time{}
	}
	return last.Time()
}

// Watched reports whether the leader's watcher must watch this canary (see Wake).
func (c *Canary) Watched() bool {
	_, ok := c.Wake()
	return ok
}

// Slug is the original's rule: lower-case, runs of '-', white space and '_' become one '-',
// and every other character that is not a letter, digit or '-' is dropped.
func Slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r == '-' || r == '_' || unicode.IsSpace(r):
			if !dash {
				b.WriteByte('-')
				dash = true
			}
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			b.WriteRune(r)
			dash = false
		}
	}
	return b.String()
}

// withComment builds "Triggered (comment)" the way the original does.
// failedNotificationComment is the history entry of a notification given up on: the
// e-mail addresses are the "email" channel. The reason is cut to fit a comment.
func failedNotificationComment(channel string, kind Kind, reason string) string {
	if channel == "" {
		channel = "email"
	}
	c := "Notification to " + channel + " failed (" + string(kind) + "): " + reason
	if len(c) > maxCommentBytes {
		c = strings.ToValidUTF8(c[:maxCommentBytes-3], "") + "..."
	}
	return c
}

func withComment(verb, comment string) string {
	if comment == "" {
		return verb
	}
	return verb + " (" + comment + ")"
}
