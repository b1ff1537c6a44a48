package main

import (
	"fmt"
	"sort"
	"time"
)

// CheckResult is what one check found: how much it looked at, and every violation with
// its evidence.
type CheckResult struct {
	Name       string
	Counts     []Count // what the check looked at, for the summary
	Violations []Violation
}

// Count is one figure of a check, printed as "label: n".
type Count struct {
	Label string
	N     int
}

// Violation is one broken promise.
type Violation struct {
	What     string // a short class, e.g. "lost"
	Evidence string // op, node, times
}

func (r *CheckResult) count(label string, n int) {
	r.Counts = append(r.Counts, Count{label, n})
}

func (r *CheckResult) fail(what, format string, args ...any) {
	r.Violations = append(r.Violations, Violation{What: what, Evidence: fmt.Sprintf(format, args...)})
}

// Passed tells whether the check found nothing wrong.
func (r *CheckResult) Passed() bool { return len(r.Violations) == 0 }

// Checks runs every check on a recorded campaign, in the order of the summary.
func Checks(run *Run) []CheckResult {
	ix := newOpIndex(run.Ops)
	return []CheckResult{
		checkWrites(run, ix),
		checkOrder(run, ix),
		checkConvergence(run),
		checkConsistentReads(run, ix),
		checkNotFound(run, ix),
		checkMail(run, ix),
		checkNodes(run),
	}
}

// opIndex groups the ops the checks look up.
type opIndex struct {
	triggers  map[string][]*Op // by canary id, every trigger
	byComment map[string]*Op   // trigger token -> its op
	created   map[string]*Op   // canary id -> its acknowledged create
	deleted   map[string]time.Time
	writes    []*Op       // acknowledged writes, by start
	minEnd    []time.Time // minEnd[i]: the earliest end among writes[i:]
}

func newOpIndex(ops []Op) *opIndex {
	ix := &opIndex{
		triggers:  make(map[string][]*Op),
		byComment: make(map[string]*Op),
		created:   make(map[string]*Op),
		deleted:   make(map[string]time.Time),
	}
	for i := range ops {
		op := &ops[i]
		switch op.Kind {
		case OpTrigger:
			ix.triggers[op.CanaryID] = append(ix.triggers[op.CanaryID], op)
			if op.Comment != "" {
				ix.byComment[op.Comment] = op
			}
		case OpCreate:
			if op.Outcome() == Acked && op.CanaryID != "" {
				ix.created[op.CanaryID] = op
			}
		case OpDelete:
			// A canary may be gone from the moment any delete of it was sent.
			if t, ok := ix.deleted[op.CanaryID]; !ok || op.Start.Before(t) {
				ix.deleted[op.CanaryID] = op.Start
			}
		}
		if op.IsWrite() && op.Outcome() == Acked {
			ix.writes = append(ix.writes, op)
		}
	}
	sort.Slice(ix.writes, func(i, j int) bool { return ix.writes[i].Start.Before(ix.writes[j].Start) })
	ix.minEnd = make([]time.Time, len(ix.writes))
	for i := len(ix.writes) - 1; i >= 0; i-- {
		ix.minEnd[i] = ix.writes[i].End
		if i+1 < len(ix.writes) && ix.minEnd[i+1].Before(ix.minEnd[i]) {
			ix.minEnd[i] = ix.minEnd[i+1]
		}
	}
	return ix
}

// writeAckedWithin tells whether some write was both sent at or after from and
// acknowledged at or before to: proof that a leader was committing in that window.
func (ix *opIndex) writeAckedWithin(from, to time.Time) bool {
	i := sort.Search(len(ix.writes), func(i int) bool { return !ix.writes[i].Start.Before(from) })
	return i < len(ix.writes) && !ix.minEnd[i].After(to)
}

// exists tells whether a canary had been acknowledged as created, and not yet sent a
// delete, at t.
func (ix *opIndex) exists(id string, t time.Time) bool {
	c, ok := ix.created[id]
	if !ok || !t.After(c.End) {
		return false
	}
	if d, ok := ix.deleted[id]; ok && !t.Before(d) {
		return false
	}
	return true
}

// History pruning, as the server applies it: past historyKeep entries, the oldest go
// once there are more than historyMax or once they are older than a week.
const (
	historyMax    = 1000
	historyKeep   = 100
	historyMaxAge = 7 * 24 * time.Hour
)

// mayBePruned tells whether an operation that started at start may be missing from a
// history of n entries whose oldest and newest entries are at oldest and newest,
// because the server pruned it rather than lost it. An operation that started after
// the oldest entry was written is younger than it and must be there.
func mayBePruned(n int, oldest, newest, start time.Time) bool {
	if n < historyKeep || start.After(oldest) {
		return false
	}
	return n >= historyMax || start.Before(newest.Add(-historyMaxAge))
}

func historyMayBePruned(c *Canary, start time.Time) bool {
	if c == nil || len(c.History) == 0 {
		return false
	}
	return mayBePruned(len(c.History), c.History[0].At, c.History[len(c.History)-1].At, start)
}

// stamp formats a time for evidence: wall clock with milliseconds.
func stamp(t time.Time) string { return t.Local().Format("15:04:05.000") }

// describe is an op as evidence.
func describe(op *Op) string {
	s := fmt.Sprintf("op#%d %s %s", op.Seq, op.Client, op.Kind)
	if op.Consistent {
		s += " consistent"
	}
	if op.By != "" {
		s += " by " + op.By
	}
	if op.Comment != "" {
		s += " comment=" + op.Comment
	}
	if op.CanaryID != "" {
		s += " canary=" + op.CanaryID
	}
	if op.Name != "" && op.CanaryID == "" {
		s += fmt.Sprintf(" name=%q", op.Name)
	}
	s += fmt.Sprintf(" on %s [%s .. %s] -> ", op.Node, stamp(op.Start), stamp(op.End))
	if op.Status == 0 {
		s += "no answer"
	} else {
		s += fmt.Sprintf("HTTP %d", op.Status)
	}
	if op.Error != "" {
		s += " " + op.Error
	}
	return s
}
