package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
)

// timeline is the SVG chart of a canary's page: its history's events over the last
// days against its deadline. Positions are computed here; the template writes the
// elements, so every text in them is escaped.
type timeline struct {
	Width    int
	Marks    []mark
	Ticks    []tick
	Deadline string // x of the deadline, empty when it is off the chart
}

type mark struct {
	X           string
	Kind, Title string
}

type tick struct{ X, Label string }

const timelineWidth = 1000

func newTimeline(newestFirst []fsm.HistoryEntry, deadline, now time.Time) timeline {
	from := now.Add(-timelineDays * 24 * time.Hour)
	to := now.Add(12 * time.Hour) // room for a deadline that is near
	span := to.Sub(from)
	x := func(t time.Time) string {
		return fmt.Sprintf("%.1f", float64(t.Sub(from))/float64(span)*timelineWidth)
	}
	tl := timeline{Width: timelineWidth}
	for _, e := range newestFirst {
		t := e.Time()
		if t.Before(from) {
			break
		}
		if t.After(to) {
			continue
		}
		tl.Marks = append(tl.Marks, mark{X: x(t), Kind: kindOf(e.Comment),
			Title: t.UTC().Format("2006-01-02 15:04:05 UTC") + ": " + e.Comment})
	}
	slices.Reverse(tl.Marks) // the newest drawn last, on top

	for d := 0; d <= timelineDays; d++ {
		day := from.Truncate(24 * time.Hour).Add(time.Duration(d) * 24 * time.Hour)
		if day.Before(from) {
			continue
		}
		tl.Ticks = append(tl.Ticks, tick{X: x(day), Label: day.UTC().Format("Jan 2")})
	}
	if !deadline.IsZero() && !deadline.Before(from) && !deadline.After(to) {
		tl.Deadline = x(deadline)
	}
	return tl
}

// kindOf sorts a history comment into the chart's colours.
func kindOf(comment string) string {
	lower := strings.ToLower(comment)
	switch {
	case strings.HasPrefix(comment, "Triggered"):
		return "ok"
	case strings.HasPrefix(comment, "Started"):
		return "start"
	case strings.Contains(lower, "late") || strings.HasPrefix(comment, "Failed") || strings.Contains(lower, "fail"):
		return "bad"
	}
	return "other"
}
