package main

import (
	"sort"
	"time"
)

// Checks 4 and 5: consistent reads see every earlier acknowledged write, and no
// request gets a 404 (or a list without it) for a canary that exists.

// replicationLag is how long after a create a plain (local, possibly stale) read on
// another node may still miss the canary. Reads are local by default and may lag the
// leader by the replication delay, which on loopback is milliseconds; a node that is
// partitioned or paused may lag longer and is excused while it is and for catchUp after.
const (
	replicationLag = 2 * time.Second
	catchUp        = 2 * time.Second
)

func checkConsistentReads(run *Run, ix *opIndex) CheckResult {
	res := CheckResult{Name: "4. consistent reads reflect every earlier acknowledged write"}
	// Acknowledged triggers of each canary by end, for the sweep below.
	ackedBy := make(map[string][]*Op)
	for id, ops := range ix.triggers {
		for _, op := range ops {
			if op.Outcome() == Acked {
				ackedBy[id] = append(ackedBy[id], op)
			}
		}
		sort.Slice(ackedBy[id], func(i, j int) bool { return ackedBy[id][i].End.Before(ackedBy[id][j].End) })
	}
	var gets, lists int
	for i := range run.Ops {
		r := &run.Ops[i]
		if !r.Consistent || r.Outcome() != Acked {
			continue
		}
		switch r.Kind {
		case OpGet:
			gets++
			seen := toSet(r.Seen)
			for _, a := range ackedBy[r.CanaryID] {
				if !a.End.Before(r.Start) {
					break
				}
				if seen[a.Comment] || mayBePruned(r.HistoryLen, r.Oldest, r.End, a.Start) {
					continue
				}
				res.fail("stale read", "%s: history lacks %s (acknowledged %s before the read was sent)%s",
					describe(r), a.Comment, r.Start.Sub(a.End).Round(time.Millisecond), situation(run, r.Node, r.Start))
				break // one missing trigger is evidence enough for this read
			}
		case OpList:
			lists++
			seen := toSet(r.Seen)
			for id, c := range ix.created {
				if c.End.Before(r.Start) && ix.exists(id, r.Start) && !seen[id] {
					res.fail("stale read", "%s: list lacks canary %s (created %s before the read was sent)%s",
						describe(r), id, r.Start.Sub(c.End).Round(time.Millisecond), situation(run, r.Node, r.Start))
					break
				}
			}
		}
	}
	res.count("acknowledged consistent gets", gets)
	res.count("acknowledged consistent lists", lists)
	return res
}

func toSet(s []string) map[string]bool {
	out := make(map[string]bool, len(s))
	for _, v := range s {
		out[v] = true
	}
	return out
}

func checkNotFound(run *Run, ix *opIndex) CheckResult {
	res := CheckResult{Name: "5. no 404 for an existing canary (by id, slug or name)"}
	var checked, excused int
	for i := range run.Ops {
		op := &run.Ops[i]
		if op.CanaryID == "" || op.Kind == OpCreate || op.Kind == OpList || !ix.exists(op.CanaryID, op.Start) {
			continue
		}
		checked++
		if op.Status != 404 {
			continue
		}
		created := ix.created[op.CanaryID].End
		if op.Kind == OpGet && !op.Consistent && staleAllowed(run.Faults, op, created) {
			excused++
			continue
		}
		res.fail(notFoundClass(op), "%s: canary created (acknowledged) at %s, %s before%s", describe(op), stamp(created),
			op.Start.Sub(created).Round(time.Millisecond), situation(run, op.Node, op.Start))
	}
	// A plain list leaves out no canary that exists either (a restarted node that had
	// not replayed its log answered an empty list).
	for i := range run.Ops {
		op := &run.Ops[i]
		if op.Kind != OpList || op.Consistent || op.Outcome() != Acked {
			continue
		}
		checked++
		seen := toSet(op.Seen)
		missing, example := 0, ""
		for id, c := range ix.created {
			if !ix.exists(id, op.Start) || seen[id] {
				continue
			}
			if staleAllowed(run.Faults, op, c.End) {
				excused++
				continue
			}
			missing++
			example = id
		}
		if missing > 0 {
			res.fail("list incomplete", "%s: %d existing canaries missing from %d listed, e.g. %s%s",
				describe(op), missing, len(op.Seen), example, situation(run, op.Node, op.Start))
		}
	}
	res.count("requests naming an existing canary, and plain lists", checked)
	res.count("excused: plain reads within the replication lag or while a fault stalled replication to their node", excused)
	return res
}

// staleAllowed tells whether a plain (local) read may not yet show a canary created at
// created. Plain reads may lag the leader by the replication delay: the read came
// within replicationLag of the create, or while (or within catchUp after) a fault that
// stalls replication to this node: its own partition or pause, any other node's fault
// (a killed or cut-off leader leaves a follower behind until the next leader catches
// it up), or a leadership transfer.
// A node's own restart is no excuse: a restarted node must not answer from a state it
// has not caught up (issue 13, item 3).
func staleAllowed(faults []Fault, op *Op, created time.Time) bool {
	if op.Start.Sub(created) < replicationLag {
		return true
	}
	for _, f := range faults {
		// The read overlaps the fault or its catch-up, and the create came before the
		// fault was over.
		if !f.Start.Before(op.End) || !op.Start.Before(f.End.Add(catchUp)) || !created.Before(f.End) {
			continue
		}
		switch {
		case f.Kind == FaultTransfer:
			return true
		case f.Node == op.Node:
			if f.Kind == FaultPartition || f.Kind == FaultPause {
				return true
			}
		case f.Node != "": // another node's fault
			return true
		}
	}
	return false
}

// notFoundClass names a 404 by what got it: a write that resolves the canary on the
// leader, a consistent read, or a plain (local) read.
func notFoundClass(op *Op) string {
	switch {
	case op.IsWrite():
		return "404 on a write"
	case op.Consistent:
		return "404 on a consistent read"
	}
	return "404 on a plain read"
}
