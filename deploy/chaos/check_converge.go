package main

import (
	"fmt"
	"reflect"
	"sort"
)

// Check 3: after everything healed, every node shows the same canaries.

func checkConvergence(run *Run) CheckResult {
	res := CheckResult{Name: "3. nodes converge (identical list?verbose=true)"}
	res.count("nodes compared", len(run.Finals))
	if len(run.Finals) > 0 {
		res.count("canaries", len(run.Finals[0].Canaries))
	}
	if !run.Converged && run.Divergence != "" {
		res.fail("diverged", "%s", run.Divergence)
	}
	for _, d := range diffStates(run.Finals) {
		res.fail("diverged", "%s", d)
	}
	return res
}

// diffStates describes every canary that is not the same on all nodes (at most 20).
func diffStates(states []NodeState) []string {
	if len(states) < 2 {
		return nil
	}
	ids := make(map[string]bool)
	for _, st := range states {
		for id := range st.Canaries {
			ids[id] = true
		}
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	var out []string
	for _, id := range sorted {
		ref := states[0]
		for _, st := range states[1:] {
			a, b := ref.Canaries[id], st.Canaries[id]
			if d := diffCanary(a, b); d != "" {
				out = append(out, fmt.Sprintf("canary %s: %s vs %s: %s", id, ref.Node, st.Node, d))
			}
		}
		if len(out) >= 20 {
			out = append(out, "(more differences not shown)")
			break
		}
	}
	return out
}

func diffCanary(a, b *Canary) string {
	switch {
	case a == nil && b == nil:
		return ""
	case a == nil:
		return "missing on the first"
	case b == nil:
		return "missing on the second"
	case a.Late != b.Late || a.Paused != b.Paused:
		return fmt.Sprintf("late/paused %v/%v vs %v/%v", a.Late, a.Paused, b.Late, b.Paused)
	case len(a.History) != len(b.History):
		return fmt.Sprintf("%d vs %d history entries", len(a.History), len(b.History))
	case !reflect.DeepEqual(a, b):
		for i := range a.History {
			if a.History[i] != b.History[i] {
				return fmt.Sprintf("history entry %d: %v vs %v", i, a.History[i], b.History[i])
			}
		}
		return "fields differ"
	}
	return ""
}
