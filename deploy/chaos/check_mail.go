package main

import (
	"sort"
	"time"
)

// Check 6: every LATE and RESUMED transition was mailed exactly once. Resends of one
// record (same Message-ID) are allowed: delivery is at-least-once.
//
// History does not record a late transition, so the transitions are read from three
// sources that must agree: the mails themselves (per canary, by outbox sequence, they
// alternate LATE, RESUMED, ...), the answers of acknowledged triggers ("recovered"), and
// the final histories and late flags.

// Slack for the missing-LATE rule: a deadline that passed this long before a write was
// sent, when that write was acknowledged markLateWithin before the next trigger, should
// have been marked late by the leader that committed the write.
const (
	lateSlack      = 2 * time.Second
	markLateWithin = 1 * time.Second
)

func checkMail(run *Run, ix *opIndex) CheckResult {
	res := CheckResult{Name: "6. one mail per LATE/RESUMED transition"}
	byCanary := make(map[string][]Mail)
	for _, m := range run.Mails {
		byCanary[m.CanaryID] = append(byCanary[m.CanaryID], m)
	}
	final := NodeState{Canaries: map[string]*Canary{}}
	if len(run.Finals) > 0 {
		final = run.Finals[0]
	}
	var late, resumed, expectedLate int
	for id, mails := range byCanary {
		sort.Slice(mails, func(i, j int) bool { return mails[i].Seq < mails[j].Seq })
		for _, m := range mails {
			if m.Kind == "late" {
				late++
			} else {
				resumed++
			}
		}
		checkAlternation(&res, id, mails)
		checkResumedTriggers(&res, id, mails, final.Canaries[id], ix)
	}
	for id, c := range final.Canaries {
		mails := byCanary[id]
		checkFinalFlag(&res, c, mails)
		expectedLate += checkLateChain(&res, c, mails, ix)
	}
	// Every acknowledged trigger that said it recovered the canary sent one RESUMED.
	resumedFor := make(map[string]int)
	for _, m := range run.Mails {
		if m.Kind == "resumed" {
			resumedFor[m.Newest]++
		}
	}
	for _, ops := range ix.triggers {
		for _, op := range ops {
			if op.Outcome() == Acked && op.Recovered && resumedFor[triggerPrefix+op.Comment+")"] == 0 {
				res.fail("RESUMED not mailed", "%s: answered recovered=true, no RESUMED mail names it", describe(op))
			}
		}
	}
	res.count("distinct LATE mails", late)
	res.count("distinct RESUMED mails", resumed)
	res.count("resends of a Message-ID already received (allowed)", run.Duplicates)
	res.count("LATE transitions the histories require", expectedLate)
	return res
}

// checkAlternation: per canary, by sequence, LATE and RESUMED alternate from a LATE.
func checkAlternation(res *CheckResult, id string, mails []Mail) {
	prev := "resumed"
	for _, m := range mails {
		if m.Kind == prev {
			if m.Kind == "late" {
				res.fail("LATE twice", "canary %s: %s follows another LATE without a RESUMED between", id, m.MessageID)
			} else {
				res.fail("RESUMED without LATE", "canary %s: %s follows no LATE", id, m.MessageID)
			}
		}
		prev = m.Kind
	}
}

// checkResumedTriggers: each RESUMED names a trigger that is in the history, that did
// not answer recovered=false, and that no other RESUMED names.
func checkResumedTriggers(res *CheckResult, id string, mails []Mail, c *Canary, ix *opIndex) {
	named := make(map[string]string)
	for _, m := range mails {
		if m.Kind != "resumed" {
			continue
		}
		if other, dup := named[m.Newest]; dup {
			res.fail("transition mailed twice", "canary %s: RESUMED %s and %s both for %q", id, other, m.MessageID, m.Newest)
		}
		named[m.Newest] = m.MessageID
		tok := Entry{Comment: m.Newest}.Token()
		if op := ix.byComment[tok]; op != nil && op.Outcome() == Acked && !op.Recovered {
			res.fail("RESUMED for a trigger that did not recover", "%s: answered recovered=false, yet %s names it", describe(op), m.MessageID)
		}
		if c != nil && !historyHas(c, m.Newest) && !historyMayBePruned(c, time.Time{}) {
			res.fail("RESUMED for an unknown trigger", "canary %s: %s names %q, which is not in its history", id, m.MessageID, m.Newest)
		}
	}
}

func historyHas(c *Canary, comment string) bool {
	for _, e := range c.History {
		if e.Comment == comment {
			return true
		}
	}
	return false
}

// checkFinalFlag: a canary that ends late has a LATE as its last mail; one that does
// not has none or a RESUMED.
func checkFinalFlag(res *CheckResult, c *Canary, mails []Mail) {
	last := ""
	if len(mails) > 0 {
		last = mails[len(mails)-1].Kind
	}
	switch {
	case c.Late && last != "late":
		res.fail("LATE not mailed", "canary %s (%s) ends late, its last mail is %q", c.ID, c.Name, last)
	case !c.Late && last == "late":
		res.fail("RESUMED not mailed", "canary %s (%s) ends not late, its last mail is a LATE", c.ID, c.Name)
	}
}

// checkLateChain walks a canary's history: each LATE mail names the last event before
// its deadline passed, and the first trigger after that event must have a RESUMED; and
// where a deadline passed long before the next event while a leader was demonstrably
// committing writes, that deadline must have a LATE. It returns how many LATEs the
// history requires.
func checkLateChain(res *CheckResult, c *Canary, mails []Mail, ix *opIndex) (required int) {
	lateFor := make(map[string]string) // newest event -> Message-ID
	resumedFor := make(map[string]bool)
	for _, m := range mails {
		if m.Kind == "late" {
			if other, dup := lateFor[m.Newest]; dup {
				res.fail("transition mailed twice", "canary %s: LATE %s and %s both after %q", c.ID, other, m.MessageID, m.Newest)
			}
			lateFor[m.Newest] = m.MessageID
		} else {
			resumedFor[m.Newest] = true
		}
	}
	period := time.Duration(c.Periodicity * float64(time.Second))
	for i, e := range c.History {
		if !e.setsDeadline() {
			continue
		}
		// The next event that ends this watch: a trigger, a pause, an unpause.
		j := i + 1
		for j < len(c.History) && !c.History[j].setsDeadline() && !c.History[j].isPause() {
			j++
		}
		if msgID, ok := lateFor[e.Comment]; ok {
			if t := nextTrigger(c.History, i); t != "" && !resumedFor[t] {
				res.fail("RESUMED not mailed", "canary %s: %s after %q, yet no RESUMED for the next trigger %q", c.ID, msgID, e.Comment, t)
			}
		}
		if period <= 0 || j >= len(c.History) {
			continue
		}
		deadline := e.At.Add(period)
		next := c.History[j].At
		if next.Before(deadline.Add(lateSlack)) || !ix.writeAckedWithin(deadline.Add(lateSlack), next.Add(-markLateWithin)) {
			continue
		}
		required++
		if _, ok := lateFor[e.Comment]; !ok {
			res.fail("LATE not mailed", "canary %s: deadline %s after %q passed, next event %q at %s, writes were committed meanwhile, no LATE names it",
				c.ID, stamp(deadline), e.Comment, c.History[j].Comment, stamp(next))
		}
	}
	return required
}

// nextTrigger is the comment of the first trigger after history entry i ("" if none).
func nextTrigger(h []Entry, i int) string {
	for _, e := range h[i+1:] {
		if e.Token() != "" || e.Comment == "Triggered" {
			return e.Comment
		}
	}
	return ""
}
