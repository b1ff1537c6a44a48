package main

import (
	"sort"
	"strings"
	"time"
)

// Availability: the share of write attempts acknowledged, and the longest time with no
// write acknowledged while at most one node was faulty (the whole-cluster restart is left
// out: then every node is).

// Availability is what the summary prints about writes.
type Availability struct {
	Attempts, Acked int
	// Refused counts the attempts that found their node down: the connection was
	// refused because the campaign had killed the process. Clients pick a node at
	// random and do not learn, so these measure the fault schedule, not the cluster.
	Refused int
	// Longest is the longest interval without an acknowledged write outside the
	// whole-cluster restart, from From to To.
	Longest  time.Duration
	From, To time.Time
	// During names the faults that overlapped the longest interval.
	During []string
	// ClusterRestartGap is how long writes stopped around the whole-cluster restart.
	ClusterRestartGap time.Duration
}

// Percent is the share of write attempts acknowledged.
func (a Availability) Percent() float64 {
	return percent(a.Acked, a.Attempts)
}

// ReachedPercent is the share acknowledged of the attempts that reached a running node.
func (a Availability) ReachedPercent() float64 {
	return percent(a.Acked, a.Attempts-a.Refused)
}

func percent(part, whole int) float64 {
	if whole <= 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

func measureAvailability(run *Run) Availability {
	var a Availability
	var acks []time.Time
	for i := range run.Ops {
		op := &run.Ops[i]
		if !op.IsWrite() || op.Start.Before(run.WorkStart) || op.Start.After(run.WorkEnd) {
			continue
		}
		a.Attempts++
		if op.Status == 0 && strings.Contains(op.Error, "connection refused") {
			a.Refused++
		}
		if op.Outcome() == Acked {
			a.Acked++
			acks = append(acks, op.End)
		}
	}
	sort.Slice(acks, func(i, j int) bool { return acks[i].Before(acks[j]) })
	// The gaps between consecutive acknowledgements, with the run's edges as bounds.
	bounds := append(append([]time.Time{run.WorkStart}, acks...), run.WorkEnd)
	var excluded []Fault
	for _, f := range run.Faults {
		if f.Kind == FaultCluster {
			excluded = append(excluded, f)
		}
	}
	for i := 1; i < len(bounds); i++ {
		from, to := bounds[i-1], bounds[i]
		for _, piece := range subtract(from, to, excluded) {
			if d := piece[1].Sub(piece[0]); d > a.Longest {
				a.Longest, a.From, a.To = d, piece[0], piece[1]
			}
		}
		for _, f := range excluded {
			if from.Before(f.End) && to.After(f.Start) {
				a.ClusterRestartGap = max(a.ClusterRestartGap, to.Sub(from))
			}
		}
	}
	for _, f := range run.Faults {
		if f.Start.Before(a.To) && f.End.After(a.From) {
			a.During = append(a.During, string(f.Kind)+" "+f.Node)
		}
	}
	return a
}

// subtract returns [from, to) less the faults' intervals, as pieces.
func subtract(from, to time.Time, faults []Fault) [][2]time.Time {
	pieces := [][2]time.Time{{from, to}}
	for _, f := range faults {
		var out [][2]time.Time
		for _, p := range pieces {
			if !p[0].Before(f.End) || !p[1].After(f.Start) {
				out = append(out, p)
				continue
			}
			if p[0].Before(f.Start) {
				out = append(out, [2]time.Time{p[0], f.Start})
			}
			if p[1].After(f.End) {
				out = append(out, [2]time.Time{f.End, p[1]})
			}
		}
		pieces = out
	}
	return pieces
}
