package main

import (
	"fmt"
	"testing"
)

// A pulse canary (periodicity 3 s) created at 0 s and triggered at 1 s goes late at 4 s;
// the trigger at 8 s resumes it. The mail checks must hold the mails, the triggers'
// answers and the final history to one another.

func (f *fixture) pulseCanary(late bool) {
	f.pulse = &Canary{ID: "pppppppp", Name: "Pulse", Slug: "pulse", Periodicity: 3, Late: late,
		History: []Entry{{At: at(0), Comment: "Canary created"}}}
	f.op(Op{Kind: OpCreate, CanaryID: "pppppppp", Name: "Pulse", Start: at(0), End: at(1), Status: 200, OK: true})
}

func (f *fixture) pulseTrigger(tok string, ms int, recovered bool) {
	f.op(Op{Kind: OpTrigger, CanaryID: "pppppppp", Client: "p1", By: "id", Comment: tok,
		Start: at(ms - 5), End: at(ms + 5), Status: 200, OK: true, Recovered: recovered})
	f.pulse.History = append(f.pulse.History, Entry{At: at(ms), Comment: "Triggered (" + tok + ")"})
}

func (f *fixture) mail(kind string, seq uint64, newest string) {
	f.run.Mails = append(f.run.Mails, Mail{
		MessageID: fmt.Sprintf("<coal-mine.pppppppp.%d.%s@example.org>", seq, kind),
		CanaryID:  "pppppppp", Kind: kind, Seq: seq, Newest: newest,
	})
}

// busyLeader shows a leader committing writes while the pulse canary is overdue.
func (f *fixture) busyLeader() {
	f.trigger("c1-w1", 6500, 6510, 200, true)
}

func TestMailChecks(t *testing.T) {
	tests := []struct {
		name  string
		build func(f *fixture)
		want  []string
	}{
		{"late and resumed, each mailed once", func(f *fixture) {
			f.pulseCanary(false)
			f.pulseTrigger("p1-w1", 1000, false)
			f.busyLeader()
			f.pulseTrigger("p1-w2", 8000, true)
			f.mail("late", 1, "Triggered (p1-w1)")
			f.mail("resumed", 2, "Triggered (p1-w2)")
		}, nil},
		{"resends of one Message-ID are allowed", func(f *fixture) {
			f.pulseCanary(false)
			f.pulseTrigger("p1-w1", 1000, false)
			f.pulseTrigger("p1-w2", 8000, true)
			f.mail("late", 1, "Triggered (p1-w1)")
			f.mail("resumed", 2, "Triggered (p1-w2)")
			f.run.Duplicates = 2
		}, nil},
		{"ends late with its LATE mailed", func(f *fixture) {
			f.pulseCanary(true)
			f.pulseTrigger("p1-w1", 1000, false)
			f.mail("late", 1, "Triggered (p1-w1)")
		}, nil},
		{"LATE missing while a leader committed writes", func(f *fixture) {
			f.pulseCanary(false)
			f.pulseTrigger("p1-w1", 1000, false)
			f.busyLeader()
			f.pulseTrigger("p1-w2", 8000, false)
		}, []string{"6:LATE not mailed"}},
		{"overdue while no leader committed anything", func(f *fixture) {
			f.pulseCanary(false)
			f.pulseTrigger("p1-w1", 1000, false)
			f.pulseTrigger("p1-w2", 8000, false)
		}, nil},
		{"RESUMED missing", func(f *fixture) {
			f.pulseCanary(false)
			f.pulseTrigger("p1-w1", 1000, false)
			f.busyLeader()
			f.pulseTrigger("p1-w2", 8000, true)
			f.mail("late", 1, "Triggered (p1-w1)")
		}, []string{"6:RESUMED not mailed"}},
		{"final late flag without a LATE", func(f *fixture) {
			f.pulseCanary(true)
			f.pulseTrigger("p1-w1", 1000, false)
		}, []string{"6:LATE not mailed"}},
		{"one transition mailed twice under two Message-IDs", func(f *fixture) {
			f.pulseCanary(true)
			f.pulseTrigger("p1-w1", 1000, false)
			f.mail("late", 1, "Triggered (p1-w1)")
			f.mail("late", 2, "Triggered (p1-w1)")
		}, []string{"6:LATE twice", "6:transition mailed twice"}},
		{"RESUMED without a LATE", func(f *fixture) {
			f.pulseCanary(false)
			f.pulseTrigger("p1-w1", 1000, false)
			f.pulseTrigger("p1-w2", 8000, true)
			f.mail("resumed", 2, "Triggered (p1-w2)")
		}, []string{"6:RESUMED without LATE"}},
		{"RESUMED for a trigger that answered recovered=false", func(f *fixture) {
			f.pulseCanary(false)
			f.pulseTrigger("p1-w1", 1000, false)
			f.pulseTrigger("p1-w2", 8000, false)
			f.mail("late", 1, "Triggered (p1-w1)")
			f.mail("resumed", 2, "Triggered (p1-w2)")
		}, []string{"6:RESUMED for a trigger that did not recover"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture()
			tt.build(f)
			run := f.finish()
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
