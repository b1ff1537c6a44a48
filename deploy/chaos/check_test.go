package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The checks are fed synthetic campaigns: a clean one must pass every check, and each
// injected defect must be reported by the check that owns it, with its class.

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// at is t0 plus ms milliseconds.
func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// fixture builds a campaign of one canary "aaaaaaaa" (periodicity 3600) on three nodes.
type fixture struct {
	run   Run
	hist  []Entry
	pulse *Canary // a second canary with a short periodicity, for the mail checks
}

func newFixture() *fixture {
	f := &fixture{}
	f.run.WorkStart, f.run.WorkEnd = at(0), at(100_000)
	f.op(Op{Kind: OpCreate, CanaryID: "aaaaaaaa", Name: "Job A", Start: at(0), End: at(10), Status: 200, OK: true})
	f.hist = []Entry{{At: at(5), Comment: "Canary created"}}
	f.run.Converged = true
	return f
}

func (f *fixture) op(op Op) *Op {
	op.Seq = int64(len(f.run.Ops) + 1)
	if op.Client == "" {
		op.Client = "c1"
	}
	if op.Node == "" {
		op.Node = "n1"
	}
	f.run.Ops = append(f.run.Ops, op)
	return &f.run.Ops[len(f.run.Ops)-1]
}

// trigger records a trigger sent at start, answered at end with status (0: no
// answer), and applied at the end of the history when applied is true.
func (f *fixture) trigger(tok string, start, end, status int, applied bool) {
	f.op(Op{Kind: OpTrigger, CanaryID: "aaaaaaaa", By: "id", Comment: tok,
		Start: at(start), End: at(end), Status: status, OK: status == 200})
	if applied {
		f.apply(tok, (start+end)/2)
	}
}

func (f *fixture) apply(tok string, ms int) {
	f.hist = append(f.hist, Entry{At: at(ms), Comment: "Triggered (" + tok + ")"})
}

// finish puts the history on every node.
func (f *fixture) finish() *Run {
	f.run.Finals = nil
	for _, node := range []string{"n1", "n2", "n3"} {
		h := append([]Entry(nil), f.hist...)
		st := NodeState{Node: node, Canaries: map[string]*Canary{
			"aaaaaaaa": {ID: "aaaaaaaa", Name: "Job A", Slug: "job-a", Periodicity: 3600, History: h},
		}}
		if f.pulse != nil {
			p := *f.pulse
			p.History = append([]Entry(nil), f.pulse.History...)
			st.Canaries[p.ID] = &p
		}
		f.run.Finals = append(f.run.Finals, st)
	}
	return &f.run
}

// violations runs every check and returns "check-number:class" for each violation.
func violations(run *Run) []string {
	var out []string
	for _, r := range Checks(run) {
		for _, v := range r.Violations {
			out = append(out, r.Name[:1]+":"+v.What)
		}
	}
	return out
}

// unique drops repeats (a defect is usually reported once per node).
func unique(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func TestChecks(t *testing.T) {
	tests := []struct {
		name  string
		build func(f *fixture)
		want  []string // "check:class", each once; nil: every check passes
	}{
		{"clean", func(f *fixture) {
			f.trigger("c1-w1", 100, 200, 200, true)
			f.trigger("c1-w2", 300, 400, 200, true)
			f.trigger("c1-w3", 500, 600, 0, false)    // unknown, not applied
			f.trigger("c1-w4", 700, 800, 503, true)   // unknown, applied
			f.trigger("c1-w5", 900, 1000, 400, false) // rejected, not applied
			f.op(Op{Kind: OpGet, Consistent: true, CanaryID: "aaaaaaaa", By: "slug", Start: at(450), End: at(460),
				Status: 200, OK: true, Seen: []string{"c1-w1", "c1-w2"}, HistoryLen: 3, Oldest: at(5)})
		}, nil},
		{"lost write", func(f *fixture) {
			f.trigger("c1-w1", 100, 200, 200, true)
			f.trigger("c1-w2", 300, 400, 200, false)
		}, []string{"1:lost"}},
		{"double apply", func(f *fixture) {
			f.trigger("c1-w1", 100, 200, 200, true)
			f.apply("c1-w1", 250)
		}, []string{"1:applied twice"}},
		{"unknown outcome applied twice", func(f *fixture) {
			f.trigger("c1-w1", 100, 200, 0, true)
			f.apply("c1-w1", 250)
		}, []string{"1:applied twice"}},
		{"rejected yet applied", func(f *fixture) {
			f.trigger("c1-w1", 100, 200, 400, true)
		}, []string{"1:rejected yet applied"}},
		{"phantom trigger", func(f *fixture) {
			f.apply("nobody-sent-this", 100)
		}, []string{"1:phantom"}},
		{"order violation", func(f *fixture) {
			f.trigger("c1-w1", 100, 200, 200, false)
			f.trigger("c1-w2", 300, 400, 200, true)
			f.apply("c1-w1", 450) // acknowledged first, yet after c1-w2
		}, []string{"2:order"}},
		{"concurrent triggers in any order", func(f *fixture) {
			f.trigger("c1-w1", 100, 400, 200, false)
			f.trigger("c1-w2", 300, 500, 200, true)
			f.apply("c1-w1", 450)
		}, nil},
		{"stale consistent read", func(f *fixture) {
			f.trigger("c1-w1", 100, 200, 200, true)
			f.op(Op{Kind: OpGet, Consistent: true, CanaryID: "aaaaaaaa", By: "id", Start: at(300), End: at(310),
				Status: 200, OK: true, Seen: nil, HistoryLen: 1, Oldest: at(5)})
		}, []string{"4:stale read"}},
		{"consistent read concurrent with the write", func(f *fixture) {
			f.trigger("c1-w1", 100, 305, 200, true)
			f.op(Op{Kind: OpGet, Consistent: true, CanaryID: "aaaaaaaa", By: "id", Start: at(300), End: at(310),
				Status: 200, OK: true, Seen: nil, HistoryLen: 1, Oldest: at(5)})
		}, nil},
		{"stale consistent list", func(f *fixture) {
			f.op(Op{Kind: OpList, Consistent: true, Start: at(300), End: at(310), Status: 200, OK: true, Seen: []string{"zzzzzzzz"}})
		}, []string{"4:stale read"}},
		{"404 by slug after the create", func(f *fixture) {
			f.op(Op{Kind: OpTrigger, CanaryID: "aaaaaaaa", By: "slug", Comment: "c1-w1", Start: at(5000), End: at(5010), Status: 404})
		}, []string{"5:404 on a write"}},
		{"consistent get 404", func(f *fixture) {
			f.op(Op{Kind: OpGet, Consistent: true, CanaryID: "aaaaaaaa", By: "name", Start: at(5000), End: at(5010), Status: 404})
		}, []string{"5:404 on a consistent read"}},
		{"plain get 404 on a healthy node", func(f *fixture) {
			f.op(Op{Kind: OpGet, CanaryID: "aaaaaaaa", By: "id", Node: "n2", Start: at(5000), End: at(5010), Status: 404})
		}, []string{"5:404 on a plain read"}},
		{"plain get 404 within the replication lag", func(f *fixture) {
			f.op(Op{Kind: OpGet, CanaryID: "aaaaaaaa", By: "id", Node: "n2", Start: at(20), End: at(25), Status: 404})
		}, nil},
		{"plain get 404 on a partitioned node", func(f *fixture) {
			f.run.Faults = append(f.run.Faults, Fault{Kind: FaultPartition, Node: "n2", Start: at(5), End: at(9000)})
			f.op(Op{Kind: OpGet, CanaryID: "aaaaaaaa", By: "id", Node: "n2", Start: at(5000), End: at(5010), Status: 404})
		}, nil},
		{"plain get 404 long after a partition ended", func(f *fixture) {
			f.run.Faults = append(f.run.Faults, Fault{Kind: FaultPartition, Node: "n2", Start: at(1000), End: at(3000)})
			f.op(Op{Kind: OpGet, CanaryID: "aaaaaaaa", By: "id", Node: "n2", Start: at(9000), End: at(9010), Status: 404})
		}, []string{"5:404 on a plain read"}},
		{"plain get 404 on a follower while the leader is down", func(f *fixture) {
			f.run.Faults = append(f.run.Faults, Fault{Kind: FaultKillLeader, Node: "n1", Start: at(500), End: at(6000)})
			f.op(Op{Kind: OpGet, CanaryID: "aaaaaaaa", By: "id", Node: "n2", Start: at(5000), End: at(5010), Status: 404})
		}, nil},
		{"plain get 404 on a follower long after another node's fault", func(f *fixture) {
			f.run.Faults = append(f.run.Faults, Fault{Kind: FaultKill, Node: "n1", Start: at(500), End: at(3000)})
			f.op(Op{Kind: OpGet, CanaryID: "aaaaaaaa", By: "id", Node: "n2", Start: at(9000), End: at(9010), Status: 404})
		}, []string{"5:404 on a plain read"}},
		{"plain get 404 on a restarted node", func(f *fixture) {
			f.run.Faults = append(f.run.Faults, Fault{Kind: FaultKill, Node: "n2", Start: at(1000), End: at(4000)})
			f.op(Op{Kind: OpGet, CanaryID: "aaaaaaaa", By: "id", Node: "n2", Start: at(4100), End: at(4110), Status: 404})
		}, []string{"5:404 on a plain read"}},
		{"empty plain list", func(f *fixture) {
			f.op(Op{Kind: OpList, Node: "n3", Start: at(5000), End: at(5010), Status: 200, OK: true})
		}, []string{"5:list incomplete"}},
		{"diverged", func(f *fixture) {
			f.trigger("c1-w1", 100, 200, 0, true)
			f.finish()
			f.run.Finals[2].Canaries["aaaaaaaa"].History = f.hist[:1]
		}, []string{"3:diverged"}},
		{"panic in a log", func(f *fixture) {
			f.run.Findings = append(f.run.Findings, LogFinding{File: "n1-1.log", Line: 7, Text: "panic: boom"})
		}, []string{"7:panic"}},
		{"a start that never got ready", func(f *fixture) {
			f.run.Starts = append(f.run.Starts, StartRecord{Node: "n2", N: 2, Ready: false, Err: "exited: exit status 1"})
		}, []string{"7:did not start"}},
		{"a node that exited by itself", func(f *fixture) {
			f.run.Deaths = append(f.run.Deaths, DeathRecord{Node: "n1", N: 3, Err: "exit status 2"})
		}, []string{"7:died"}},
		{"slow shutdown", func(f *fixture) {
			f.run.Stops = append(f.run.Stops, StopRecord{Node: "n3", Took: 15 * time.Second})
		}, []string{"7:slow shutdown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture()
			tt.build(f)
			run := &f.run
			if f.run.Finals == nil {
				run = f.finish()
			}
			got := unique(violations(run))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				for _, r := range Checks(run) {
					for _, v := range r.Violations {
						t.Logf("%s: %s: %s", r.Name, v.What, v.Evidence)
					}
				}
				t.Fatalf("violations = %v, want %v", got, tt.want)
			}
		})
	}
}

// A history at the cap lost its oldest entries to pruning, not to a bug; one younger
// than the oldest kept entry may not be missing.
func TestPruningExcusesOnlyOlderEntries(t *testing.T) {
	f := newFixture()
	f.hist = nil
	f.trigger("old", 100, 200, 200, false) // pruned
	for i := range historyMax {
		f.apply(fmt.Sprintf("k%d", i), 1000+i)
		f.op(Op{Kind: OpTrigger, CanaryID: "aaaaaaaa", Comment: fmt.Sprintf("k%d", i), Start: at(1000 + i), End: at(1000 + i), Status: 200, OK: true})
	}
	f.trigger("young", 1200, 1300, 200, false) // sent after the oldest kept entry: lost
	got := unique(violations(f.finish()))
	if fmt.Sprint(got) != "[1:lost]" {
		t.Fatalf("violations = %v, want only the young trigger lost", got)
	}
	for _, r := range Checks(&f.run) {
		for _, v := range r.Violations {
			if strings.Contains(v.Evidence, "comment=old ") {
				t.Errorf("pruned trigger reported: %s", v.Evidence)
			}
		}
	}
}

func TestMayBePruned(t *testing.T) {
	week := historyMaxAge
	tests := []struct {
		name                 string
		n                    int
		oldest, newest, sent time.Time
		want                 bool
	}{
		{"short history", 50, at(0), at(10), at(-5), false},
		{"at the cap, sent before the oldest", historyMax, at(0), at(10), at(-5), true},
		{"at the cap, sent after the oldest", historyMax, at(0), at(10), at(5), false},
		{"under the cap, recent", 500, at(0), at(10), at(-5), false},
		{"under the cap, older than a week", 500, at(0), at(0).Add(week + time.Hour), at(-5), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mayBePruned(tt.n, tt.oldest, tt.newest, tt.sent); got != tt.want {
				t.Fatalf("mayBePruned = %v, want %v", got, tt.want)
			}
		})
	}
}
