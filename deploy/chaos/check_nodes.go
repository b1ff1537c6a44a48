package main

import "time"

// Check 7: no node process panicked, every start became ready, and SIGTERM ended every
// process promptly.

// shutdownBound is how long SIGTERM may take to end a node (issue 13's target).
const shutdownBound = 5 * time.Second

func checkNodes(run *Run) CheckResult {
	res := CheckResult{Name: "7. no panic or unexpected exit, every start ready, SIGTERM ends a node within 5 s"}
	for _, f := range run.Findings {
		res.fail("panic", "%s:%d: %s\n%s", f.File, f.Line, f.Text, f.Context)
	}
	for _, d := range run.Deaths {
		res.fail("died", "%s (start #%d) exited at %s without being stopped: %s (log %s)", d.Node, d.N, stamp(d.At), d.Err, d.LogFile)
	}
	for _, s := range run.Starts {
		if !s.Ready {
			res.fail("did not start", "%s start #%d at %s: %s (log %s)", s.Node, s.N, stamp(s.At), s.Err, s.LogFile)
		}
	}
	var slowest time.Duration
	for _, s := range run.Stops {
		slowest = max(slowest, s.Took)
		if s.Took > shutdownBound || s.Killed {
			how := "exited"
			if s.Killed {
				how = "was still running and got SIGKILL"
			}
			res.fail("slow shutdown", "%s: SIGTERM at %s, %s after %s", s.Node, stamp(s.At), how, s.Took.Round(time.Millisecond))
		}
	}
	res.count("starts", len(run.Starts))
	res.count("unexpected exits", len(run.Deaths))
	res.count("SIGTERM stops", len(run.Stops))
	res.count("slowest SIGTERM stop (ms)", int(slowest.Milliseconds()))
	res.count("log lines showing a crash", len(run.Findings))
	return res
}
