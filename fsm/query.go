package fsm

import (
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Get returns the canary with this id.
func (f *FSM) Get(id string) (*Canary, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if c := f.lookup(id); c != nil {
		return c, nil
	}
	return nil, ErrNotFound
}

// IDBySlug finds a canary's id by its slug.
func (f *FSM) IDBySlug(slug string) (string, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if id, ok := f.slugs[slug]; ok {
		return id, nil
	}
	return "", ErrNotFound
}

// IDByName finds a canary's id by its name, through the slug as the original does, so
// case and punctuation do not matter.
func (f *FSM) IDByName(name string) (string, error) {
	return f.IDBySlug(Slug(name))
}

// Filter selects canaries for List. Nil fields do not filter.
type Filter struct {
	Paused *bool
	Late   *bool
	// Search matches anywhere in the name, slug, id or any e-mail address.
	Search *regexp.Regexp
	// Text is found, ignoring case, anywhere in the same fields: the web interface's
	// search box, a hundred times faster than a case-insensitive regexp over a million.
	Text string
	// After and Limit page through the canaries in id order: only ids greater than After,
	// at most Limit of them (0 = no limit).
	After string
	Limit int
}

func (flt *Filter) match(c *Canary) bool {
	if flt.Paused != nil && c.Paused != *flt.Paused {
		return false
	}
	if flt.Late != nil && c.Late != *flt.Late {
		return false
	}
	if flt.Text != "" && !containsFold(c.Name, flt.Text) && !containsFold(c.Slug, flt.Text) &&
		!containsFold(c.ID, flt.Text) && !slices.ContainsFunc(c.Emails, func(e string) bool { return containsFold(e, flt.Text) }) {
		return false
	}
	if flt.Search != nil {
		re := flt.Search
		if !re.MatchString(c.Name) && !re.MatchString(c.Slug) && !re.MatchString(c.ID) &&
			!slices.ContainsFunc(c.Emails, re.MatchString) {
			return false
		}
	}
	return true
}

// List returns the matching canaries in id order. more is true when Limit cut the list.
func (f *FSM) List(flt Filter) (canaries []*Canary, more bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	visit := func(c *Canary) bool {
		if c.ID == flt.After {
			return true
		}
		if !flt.match(c) {
			return true
		}
		if flt.Limit > 0 && len(canaries) == flt.Limit {
			more = true
			return false
		}
		canaries = append(canaries, c)
		return true
	}
	if flt.After != "" {
		f.canaries.AscendGreaterOrEqual(&Canary{ID: flt.After}, visit)
	} else {
		f.canaries.Ascend(visit)
	}
	return canaries, more
}

// Len is the number of canaries.
func (f *FSM) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.canaries.Len()
}

// Stats are the figures an operator's metrics need of the state.
type Stats struct {
	Canaries, Late, Paused int
	// Outbox is the number of notifications not yet sent; OldestUnsent the time of the
	// oldest of them (zero when there is none).
	Outbox       int
	OldestUnsent time.Time
}

// Stats returns the state's figures. It reads no canary: the counts are kept by Apply.
func (f *FSM) Stats() Stats {
	f.mu.RLock()
	defer f.mu.RUnlock()
	st := Stats{Canaries: f.canaries.Len(), Late: f.counts.late, Paused: f.counts.paused, Outbox: len(f.outbox)}
	for _, n := range f.outbox {
		if st.OldestUnsent.IsZero() || n.At.Before(st.OldestUnsent) {
			st.OldestUnsent = n.At
		}
	}
	return st
}

// Outbox returns the unsent notifications, oldest first.
func (f *FSM) Outbox() []Notification {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.order.page(f.outbox, 0, len(f.outbox))
}

// OutboxPage returns up to limit unsent notifications whose sequence number is above
// after, oldest first: the dispatcher reads the outbox this way, a page at a time.
func (f *FSM) OutboxPage(after uint64, limit int) []Notification {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.order.page(f.outbox, after, limit)
}

// Pending reports whether the outbox still holds the record with this sequence number.
func (f *FSM) Pending(seq uint64) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	_, ok := f.outbox[seq]
	return ok
}

// containsFold reports whether substr is within s, ignoring case. ASCII text, nearly all
// of it, is compared in place; anything else is lower-cased first.
func containsFold(s, substr string) bool {
	if !isASCII(s) || !isASCII(substr) {
		return strings.Contains(strings.ToLower(s), strings.ToLower(substr))
	}
	for i := 0; i+len(substr) <= len(s); i++ {
		if asciiEqualFold(s[i:i+len(substr)], substr) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func asciiEqualFold(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
