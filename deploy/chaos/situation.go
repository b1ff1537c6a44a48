package main

import (
	"fmt"
	"strings"
	"time"
)

// situation says, as evidence, what had just happened to the cluster and to a node at
// a time: the node's latest start, and the faults in progress or recently ended.
func situation(run *Run, node string, t time.Time) string {
	var parts []string
	var last *StartRecord
	for i := range run.Starts {
		s := &run.Starts[i]
		if s.Node == node && !s.At.After(t) && (last == nil || s.At.After(last.At)) {
			last = s
		}
	}
	if last != nil && last.N > 1 && t.Sub(last.At) < time.Minute {
		ready := "never ready"
		if last.Ready {
			readyAt := last.At.Add(last.Took)
			ready = "ready at " + stamp(readyAt)
			if readyAt.After(t) {
				ready += " (not yet ready then)"
			}
		}
		parts = append(parts, fmt.Sprintf("%s start #%d at %s, %s", node, last.N, stamp(last.At), ready))
	}
	for _, d := range run.Deaths {
		if d.Node == node && !d.At.After(t) && t.Sub(d.At) < time.Minute {
			parts = append(parts, fmt.Sprintf("%s start #%d exited by itself at %s", node, d.N, stamp(d.At)))
		}
	}
	for _, f := range run.Faults {
		what := string(f.Kind)
		if f.Node != "" {
			what += " " + f.Node
		}
		switch {
		case !f.Start.After(t) && !f.End.Before(t):
			parts = append(parts, fmt.Sprintf("during %s (%s .. %s)", what, stamp(f.Start), stamp(f.End)))
		case f.End.Before(t) && t.Sub(f.End) < 10*time.Second:
			parts = append(parts, fmt.Sprintf("%v after %s ended (%s .. %s)", t.Sub(f.End).Round(time.Millisecond), what, stamp(f.Start), stamp(f.End)))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; context: " + strings.Join(parts, "; ")
}
