package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// The summary: seed, duration, faults, operations, each check, availability.

// shownPerClass is how many violations of one class the summary prints; all of them
// go to violations.txt.
const shownPerClass = 3

type summary struct {
	cfg     config
	outDir  string
	elapsed time.Duration
	run     *Run
	results []CheckResult
	avail   Availability
	fwNote  string
}

func (s *summary) failed() int {
	n := 0
	for _, r := range s.results {
		if !r.Passed() {
			n++
		}
	}
	return n
}

func (s *summary) write(w io.Writer) {
	fmt.Fprintf(w, "\n== coal-mine chaos campaign: seed %d, workload %v, whole run %v, %d clients, an open-loop probe, %d pulse clients\n",
		s.cfg.seed, s.cfg.duration, s.elapsed.Round(time.Second), s.cfg.clients, len(pulsePeriods))
	fmt.Fprintf(w, "output: %s\n", s.outDir)
	fmt.Fprintf(w, "faults injected: %s\n", s.faults())
	if s.fwNote != "" {
		fmt.Fprintf(w, "  partitions skipped: %s\n", s.fwNote)
	}
	s.ops(w)
	a := s.avail
	fmt.Fprintf(w, "write availability: %.1f%% of %d write attempts (creates, triggers) through random nodes acknowledged\n", a.Percent(), a.Attempts)
	fmt.Fprintf(w, "  %d attempts found their node down (connection refused); of the %d that reached a running node, %.2f%% acknowledged\n",
		a.Refused, a.Attempts-a.Refused, a.ReachedPercent())
	fmt.Fprintf(w, "longest time with no write acknowledged, at most one node faulty: %v (%s .. %s; during: %s)\n",
		a.Longest.Round(time.Millisecond), stamp(a.From), stamp(a.To), orNone(a.During))
	if a.ClusterRestartGap > 0 {
		fmt.Fprintf(w, "whole-cluster restart: no write acknowledged for %v\n", a.ClusterRestartGap.Round(time.Millisecond))
	}
	fmt.Fprintln(w, "checks:")
	for _, r := range s.results {
		verdict := "PASS"
		if !r.Passed() {
			verdict = fmt.Sprintf("FAIL (%d)", len(r.Violations))
		}
		var counts []string
		for _, c := range r.Counts {
			counts = append(counts, fmt.Sprintf("%s %d", c.Label, c.N))
		}
		fmt.Fprintf(w, "  %-9s %s\n            %s\n", verdict, r.Name, strings.Join(counts, "; "))
		s.violations(w, r.Violations)
	}
	if n := s.failed(); n > 0 {
		fmt.Fprintf(w, "RESULT: FAIL, %d of %d checks failed (seed %d; replay: go run ./deploy/chaos -duration %v -seed %d)\n",
			n, len(s.results), s.cfg.seed, s.cfg.duration, s.cfg.seed)
	} else {
		fmt.Fprintf(w, "RESULT: PASS, all %d checks (seed %d)\n", len(s.results), s.cfg.seed)
	}
}

func (s *summary) faults() string {
	counts := make(map[FaultKind]int)
	for _, f := range s.run.Faults {
		counts[f.Kind]++
	}
	var parts []string
	for _, k := range []FaultKind{FaultKill, FaultKillLeader, FaultPause, FaultPartition, FaultRestart, FaultTransfer, FaultCluster} {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}

// ops prints a table of operations by kind and outcome.
func (s *summary) ops(w io.Writer) {
	type row struct{ acked, rejected, unknown int }
	rows := make(map[string]*row)
	for i := range s.run.Ops {
		op := &s.run.Ops[i]
		key := string(op.Kind)
		if op.By != "" && op.Kind == OpTrigger {
			key += " by " + op.By
		}
		if op.Kind == OpGet {
			key += " by " + op.By
		}
		if op.Consistent {
			key += " consistent"
		}
		r := rows[key]
		if r == nil {
			r = &row{}
			rows[key] = r
		}
		switch op.Outcome() {
		case Acked:
			r.acked++
		case Rejected:
			r.rejected++
		default:
			r.unknown++
		}
	}
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "operations (%d):\n  %-28s %8s %9s %8s\n", len(s.run.Ops), "", "acked", "rejected", "unknown")
	for _, k := range keys {
		r := rows[k]
		fmt.Fprintf(w, "  %-28s %8d %9d %8d\n", k, r.acked, r.rejected, r.unknown)
	}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "no fault"
	}
	return strings.Join(s, ", ")
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append(lines[:n], "    ...")
	}
	return strings.Join(lines, "\n")
}

// writeViolations lists every violation of every check.
func writeViolations(w io.Writer, results []CheckResult) {
	for _, r := range results {
		for _, v := range r.Violations {
			fmt.Fprintf(w, "%s\n  %s: %s\n", r.Name, v.What, v.Evidence)
		}
	}
}

// violations prints a check's violations by class: the count, then the first few.
func (s *summary) violations(w io.Writer, vs []Violation) {
	var classes []string
	byClass := make(map[string][]Violation)
	for _, v := range vs {
		if byClass[v.What] == nil {
			classes = append(classes, v.What)
		}
		byClass[v.What] = append(byClass[v.What], v)
	}
	for _, class := range classes {
		list := byClass[class]
		fmt.Fprintf(w, "            %s: %d\n", class, len(list))
		for _, v := range list[:min(len(list), shownPerClass)] {
			fmt.Fprintf(w, "              - %s\n", firstLines(v.Evidence, 6))
		}
		if len(list) > shownPerClass {
			fmt.Fprintf(w, "              ... %d more in violations.txt\n", len(list)-shownPerClass)
		}
	}
}
