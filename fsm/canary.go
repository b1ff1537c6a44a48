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
	// History is stored oldest first so that a trigger appends instead of copying the
	// whole slice; NewestFirst gives the order the API shows.
	History []HistoryEntry `json:"history"`
}

// HistoryEntry is one event in a canary's history. The time is kept as microseconds
// (the precision of every stored timestamp) rather than a time.Time: with up to a
// thousand entries per canary and a million canaries, 16 bytes an entry is what decides
// whether a node fits its memory budget.
type HistoryEntry struct {
	Micros  int64  `json:"t"` // since the Unix epoch, UTC
	Comment string `json:"c"`
}

// NewHistoryEntry records comment at t.
func NewHistoryEntry(t time.Time, comment string) HistoryEntry {
	return HistoryEntry{Micros: t.UnixMicro(), Comment: comment}
}

// Time is when the event happened, in UTC.
func (h HistoryEntry) Time() time.Time { return time.UnixMicro(h.Micros).UTC() }

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
func (c *Canary) NewestFirst() []HistoryEntry {
	out := make([]HistoryEntry, len(c.History))
	for i, h := range c.History {
		out[len(out)-1-i] = h
	}
	return out
}

// LastEvent is the time of the newest history entry.
func (c *Canary) LastEvent() time.Time {
	if len(c.History) == 0 {
		return time.Time{}
	}
	return c.History[len(c.History)-1].Time()
}

// Watched reports whether the deadline watcher must watch this canary.
func (c *Canary) Watched() bool {
	return !c.Paused && !c.Late && !c.Deadline.IsZero()
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

// addHistory appends an entry and prunes by the original's rule, evaluated at the
// command's time so that every replica prunes the same entries.
func addHistory(history []HistoryEntry, at time.Time, comment string) []HistoryEntry {
	history = appendHistory(history, NewHistoryEntry(at, comment))
	weekAgo := at.Add(-historyMaxAge).UnixMicro()
	for len(history) > historyMax || (len(history) > historyKeep && history[0].Micros < weekAgo) {
		history = history[1:]
	}
	return history
}

// appendHistory appends like the built-in append but grows the slice by a quarter instead
// of doubling it: histories are long-lived and most stop growing, so the slack of
// doubling would be memory held for nothing.
func appendHistory(history []HistoryEntry, e HistoryEntry) []HistoryEntry {
	if len(history) < cap(history) {
		return append(history, e)
	}
	grown := make([]HistoryEntry, len(history), len(history)+len(history)/4+1)
	copy(grown, history)
	return append(grown, e)
}

// withComment builds "Triggered (comment)" the way the original does.
func withComment(verb, comment string) string {
	if comment == "" {
		return verb
	}
	return verb + " (" + comment + ")"
}

// recentHistory copies the newest n entries, newest first, for a notification.
func recentHistory(c *Canary, n int) []HistoryEntry {
	if n > len(c.History) {
		n = len(c.History)
	}
	out := make([]HistoryEntry, 0, n)
	for i := len(c.History) - 1; i >= len(c.History)-n; i-- {
		out = append(out, c.History[i])
	}
	return out
}
