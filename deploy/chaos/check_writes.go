package main

import (
	"sort"
)

// Checks 1 and 2: every acknowledged write is in the final state exactly once, nothing
// is there twice, and triggers of a canary are in real-time order.

// placement is where a trigger token was found in a node's final state.
type placement struct {
	canary string
	pos    int // index in the history, oldest first
}

// placements indexes every trigger token in a node's histories.
func placements(st NodeState) map[string][]placement {
	out := make(map[string][]placement)
	for id, c := range st.Canaries {
		for i, e := range c.History {
			if tok := e.Token(); tok != "" {
				out[tok] = append(out[tok], placement{canary: id, pos: i})
			}
		}
	}
	return out
}

func checkWrites(run *Run, ix *opIndex) CheckResult {
	res := CheckResult{Name: "1. acknowledged writes: none lost, none applied twice"}
	for n, st := range run.Finals {
		first := n == 0 // counts come from the first node; violations from every node
		where := placements(st)
		var acked, unknownApplied, unknownNot, rejected int
		for i := range run.Ops {
			op := &run.Ops[i]
			if op.Kind != OpTrigger {
				continue
			}
			found := where[op.Comment]
			if len(found) > 1 {
				res.fail("applied twice", "%s: on %s in history %d times", describe(op), st.Node, len(found))
			}
			if len(found) > 0 && found[0].canary != op.CanaryID {
				res.fail("applied to another canary", "%s: on %s in the history of %s", describe(op), st.Node, found[0].canary)
			}
			switch op.Outcome() {
			case Acked:
				acked++
				if len(found) == 0 && !historyMayBePruned(st.Canaries[op.CanaryID], op.Start) {
					res.fail("lost", "%s: acknowledged, not in the history on %s", describe(op), st.Node)
				}
			case Rejected:
				rejected++
				if len(found) > 0 {
					res.fail("rejected yet applied", "%s: answered %d, yet in the history on %s", describe(op), op.Status, st.Node)
				}
			case Unknown:
				if len(found) > 0 {
					unknownApplied++
				} else {
					unknownNot++
				}
			}
		}
		for tok := range where {
			if ix.byComment[tok] == nil {
				res.fail("phantom", "trigger comment %q in the history on %s was never sent", tok, st.Node)
			}
		}
		creates := checkCreates(&res, run, st)
		if first {
			res.count("acknowledged triggers", acked)
			res.count("rejected triggers", rejected)
			res.count("unknown-outcome triggers applied", unknownApplied)
			res.count("unknown-outcome triggers not applied", unknownNot)
			res.count("acknowledged creates", creates)
			res.count("nodes checked", len(run.Finals))
		}
	}
	return res
}

// checkCreates: each acknowledged create is there under its id and name, and no name
// (names are unique per campaign) is held by two canaries.
func checkCreates(res *CheckResult, run *Run, st NodeState) (acked int) {
	byName := make(map[string]int)
	for _, c := range st.Canaries {
		byName[c.Name]++
	}
	for i := range run.Ops {
		op := &run.Ops[i]
		if op.Kind != OpCreate {
			continue
		}
		if byName[op.Name] > 1 {
			res.fail("applied twice", "%s: %d canaries named %q on %s", describe(op), byName[op.Name], op.Name, st.Node)
		}
		if op.Outcome() != Acked {
			continue
		}
		acked++
		if c := st.Canaries[op.CanaryID]; c == nil || c.Name != op.Name {
			res.fail("lost", "%s: acknowledged create not on %s", describe(op), st.Node)
		}
	}
	return acked
}

// checkOrder: if trigger A was acknowledged before trigger B was sent (same canary),
// A is older than B in the history. B may be any trigger that was applied: it was applied
// after it was sent, so after A committed.
func checkOrder(run *Run, ix *opIndex) CheckResult {
	res := CheckResult{Name: "2. real-time order of triggers"}
	pairs := 0
	for n, st := range run.Finals {
		where := placements(st)
		for id, ops := range ix.triggers {
			var acked, applied []*Op
			pos := make(map[*Op]int)
			for _, op := range ops {
				found := where[op.Comment]
				if len(found) == 0 || found[0].canary != id {
					continue
				}
				pos[op] = found[0].pos
				applied = append(applied, op)
				if op.Outcome() == Acked {
					acked = append(acked, op)
				}
			}
			sort.Slice(acked, func(i, j int) bool { return acked[i].End.Before(acked[j].End) })
			sort.Slice(applied, func(i, j int) bool { return applied[i].Start.Before(applied[j].Start) })
			// Sweep B by start; latest holds the acknowledged A with the newest position
			// among those acknowledged before B was sent.
			var latest *Op
			next := 0
			for _, b := range applied {
				for next < len(acked) && acked[next].End.Before(b.Start) {
					if latest == nil || pos[acked[next]] > pos[latest] {
						latest = acked[next]
					}
					next++
				}
				if latest == nil {
					continue
				}
				if n == 0 {
					pairs++
				}
				if pos[latest] > pos[b] {
					res.fail("order", "on %s, canary %s: %s was acknowledged before %s was sent, yet comes after it in the history (positions %d > %d)",
						st.Node, id, describe(latest), describe(b), pos[latest], pos[b])
				}
			}
		}
	}
	res.count("triggers checked against every earlier acknowledged trigger", pairs)
	return res
}
