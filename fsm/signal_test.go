package fsm

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func signal(t testing.TB, f *FSM, at time.Time, id string, kind SignalKind, rid string, status int, output string) Result {
	t.Helper()
	return apply(t, f, at, Command{Type: TypeSignal, Signal: &Signal{ID: id, Kind: kind, RID: rid, ExitStatus: status, Output: output}})
}

func kinds(f *FSM) []Kind {
	var out []Kind
	for _, n := range f.Outbox() {
		out = append(out, n.Kind)
	}
	return out
}

// TestSignalsDriveTheState walks a canary through start, failure, success and log, and
// checks what a user sees at each step: state, history, runs and notifications.
func TestSignalsDriveTheState(t *testing.T) {
	f := New()
	create(t, f, t0, "aaaaaaaa", "backup", 3600, "ops@example.com")
	steps := []struct {
		name      string
		at        time.Duration
		kind      SignalKind
		rid       string
		status    int
		output    string
		state     string
		comment   string
		outbox    []Kind
		recovered bool
	}{
		{"start", time.Minute, SignalStart, "r1", -1, "", "started", "Started", nil, false},
		{"fail ends the run", 3 * time.Minute, SignalFail, "r1", 3, "disk full", "failed", "Failed (exit status 3)", []Kind{KindFailed}, false},
		{"a second failure mails nothing", 4 * time.Minute, SignalFail, "", -1, "", "failed", "Failed", []Kind{KindFailed}, false},
		{"log changes nothing", 5 * time.Minute, SignalLog, "", -1, "note", "failed", "Log", []Kind{KindFailed}, false},
		{"success resumes", 6 * time.Minute, SignalSuccess, "", 0, "", "up", "Triggered", []Kind{KindFailed, KindResumed}, true},
	}
	for _, st := range steps {
		res := signal(t, f, t0.Add(st.at), "aaaaaaaa", st.kind, st.rid, st.status, st.output)
		if res.Err != nil {
			t.Fatalf("%s: %v", st.name, res.Err)
		}
		c := res.Canary
		if c.State() != st.state || comments(c)[0] != st.comment || res.Recovered != st.recovered {
			t.Fatalf("%s: state %q comment %q recovered %v; want %q %q %v", st.name, c.State(), comments(c)[0], res.Recovered, st.state, st.comment, st.recovered)
		}
		if got := kinds(f); !equalKinds(got, st.outbox) {
			t.Fatalf("%s: outbox %v, want %v", st.name, got, st.outbox)
		}
	}
	c, _ := f.Get("aaaaaaaa")
	if c.Late || c.Job.Failed || !c.Deadline.Equal(t0.Add(6*time.Minute+time.Hour)) {
		t.Fatalf("after success: %+v", c)
	}
	runs := c.Job.Runs
	if len(runs) != 4 {
		t.Fatalf("runs = %+v", runs)
	}
	first := runs[0]
	if d, ok := first.Duration(); !ok || d != 2*time.Minute || first.ExitStatus != 3 || first.Output != "disk full" || first.State != RunFailed {
		t.Fatalf("the paired run = %+v", first)
	}
	if f.Outbox()[0].ExitStatus != 3 {
		t.Fatalf("failure record = %+v", f.Outbox()[0])
	}
	if !c.Job.HasExitStatus || c.Job.LastExitStatus != 0 {
		t.Fatalf("last exit status = %+v", c.Job)
	}
}

func equalKinds(a, b []Kind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestPlainTriggerKeepsTheOriginalShape: a canary that never used the new features
// has no Job, and a trigger on it records no run.
func TestPlainTriggerKeepsTheOriginalShape(t *testing.T) {
	f := New()
	create(t, f, t0, "aaaaaaaa", "plain", 60)
	res := trigger(t, f, t0.Add(time.Second), "aaaaaaaa", "")
	if res.Canary.Job != nil || comments(res.Canary)[0] != "Triggered" || res.Canary.State() != "up" {
		t.Fatalf("plain trigger: %+v", res.Canary)
	}
	// A plain trigger ends a run started without a rid.
	signal(t, f, t0.Add(2*time.Second), "aaaaaaaa", SignalStart, "", -1, "")
	res = trigger(t, f, t0.Add(5*time.Second), "aaaaaaaa", "done")
	j := res.Canary.Job
	if !j.Started.IsZero() || j.LastDuration != 3*time.Second || len(j.Runs) != 1 || comments(res.Canary)[0] != "Triggered (done)" {
		t.Fatalf("trigger after start: %+v %v", j, comments(res.Canary))
	}
}

func TestMaxRuntimeMakesAStartedRunLate(t *testing.T) {
	f := New()
	max := 2 * time.Second
	res := apply(t, f, t0, Command{Type: TypeCreate, Create: &Create{ID: "aaaaaaaa", Name: "long", Periodicity: Periodicity{Seconds: 3600},
		Settings: Settings{MaxRuntime: &max}}})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	c := signal(t, f, t0.Add(time.Second), "aaaaaaaa", SignalStart, "", -1, "").Canary
	if !c.LateAt().Equal(t0.Add(3*time.Second)) || !c.Deadline.Equal(t0.Add(time.Hour)) {
		t.Fatalf("late at %v, deadline %v", c.LateAt(), c.Deadline)
	}
	if wake, ok := c.Wake(); !ok || !wake.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("wake = %v %v", wake, ok)
	}
	if res := apply(t, f, t0.Add(2*time.Second), Command{Type: TypeMarkLate, MarkLate: &MarkLate{ID: "aaaaaaaa"}}); res.Changed {
		t.Fatal("marked late before the max runtime ran out")
	}
	res = apply(t, f, t0.Add(3*time.Second), Command{Type: TypeMarkLate, MarkLate: &MarkLate{ID: "aaaaaaaa"}})
	if !res.Changed || res.Canary.State() != "late" || !equalKinds(kinds(f), []Kind{KindOverran}) {
		t.Fatalf("overrun: %+v %v", res, kinds(f))
	}
	res = signal(t, f, t0.Add(4*time.Second), "aaaaaaaa", SignalSuccess, "", 0, "")
	if !res.Recovered || !equalKinds(kinds(f), []Kind{KindOverran, KindResumed}) {
		t.Fatalf("resume: %+v %v", res, kinds(f))
	}
}

func TestGraceDelaysTheDeadline(t *testing.T) {
	f := New()
	grace := 3 * time.Second
	res := apply(t, f, t0, Command{Type: TypeCreate, Create: &Create{ID: "aaaaaaaa", Name: "g", Periodicity: Periodicity{Seconds: 2}, Settings: Settings{Grace: &grace}}})
	if res.Err != nil || !res.Canary.Deadline.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("create: %+v", res)
	}
	// Clearing the grace re-bases the deadline on the newest event.
	zero := time.Duration(0)
	res = apply(t, f, t0.Add(time.Second), Command{Type: TypeUpdate, Update: &Update{ID: "aaaaaaaa", Settings: Settings{Grace: &zero}}})
	if res.Err != nil || !res.Canary.Deadline.Equal(t0.Add(2*time.Second)) || res.Canary.Job != nil {
		t.Fatalf("update: %+v", res)
	}
}

func TestCronCanary(t *testing.T) {
	f := New()
	cron, tz, grace := "0 2 * * *", "Asia/Tokyo", 600*time.Second
	at := time.Date(2026, 12, 4, 14, 31, 0, 0, time.UTC)
	res := apply(t, f, at, Command{Type: TypeCreate, Create: &Create{ID: "aaaaaaaa", Name: "tokyo", Settings: Settings{Cron: &cron, TZ: &tz, Grace: &grace}}})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if want := time.Date(2026, 12, 4, 17, 10, 0, 0, time.UTC); !res.Canary.Deadline.Equal(want) {
		t.Fatalf("deadline %v, want %v", res.Canary.Deadline, want)
	}
	// A periodicity replaces the cron.
	p := Periodicity{Seconds: 60}
	res = apply(t, f, at.Add(time.Second), Command{Type: TypeUpdate, Update: &Update{ID: "aaaaaaaa", Periodicity: &p}})
	if res.Err != nil || res.Canary.Cron() != "" || res.Canary.Periodicity != p {
		t.Fatalf("update to a periodicity: %+v", res)
	}
	for _, bad := range []Create{
		{ID: "bbbbbbbb", Name: "both", Periodicity: Periodicity{Seconds: 60}, Settings: Settings{Cron: &cron}},
		{ID: "bbbbbbbb", Name: "bad cron", Settings: Settings{Cron: ptr("61 * * * *")}},
		{ID: "bbbbbbbb", Name: "bad zone", Periodicity: Periodicity{Seconds: 60}, Settings: Settings{TZ: ptr("Mars/Olympus")}},
		{ID: "bbbbbbbb", Name: "neither"},
	} {
		if res := apply(t, f, at, Command{Type: TypeCreate, Create: &bad}); !errors.Is(res.Err, ErrInvalid) {
			t.Errorf("create %s: err %v, want invalid", bad.Name, res.Err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestTimedPauseExpiresOnce(t *testing.T) {
	f := New()
	create(t, f, t0, "aaaaaaaa", "p", 60)
	until := t0.Add(10 * time.Second)
	res := apply(t, f, t0.Add(time.Second), Command{Type: TypePause, Pause: &Pause{ID: "aaaaaaaa", Until: until}})
	if res.Err != nil || !strings.HasPrefix(comments(res.Canary)[0], "Paused until ") {
		t.Fatalf("pause: %+v", res)
	}
	if wake, ok := res.Canary.Wake(); !ok || !wake.Equal(until) {
		t.Fatalf("wake = %v %v", wake, ok)
	}
	expire := Command{Type: TypeExpirePause, ExpirePause: &ExpirePause{ID: "aaaaaaaa", Until: until}}
	if res := apply(t, f, t0.Add(9*time.Second), expire); res.Changed {
		t.Fatal("expired early")
	}
	res = apply(t, f, until, expire)
	if !res.Changed || res.Canary.Paused || comments(res.Canary)[0] != "Unpaused (pause expired)" || res.Canary.Job != nil {
		t.Fatalf("expire: %+v", res)
	}
	if res := apply(t, f, until.Add(time.Second), expire); res.Changed {
		t.Fatal("expired twice")
	}
	if res := apply(t, f, t0.Add(20*time.Second), Command{Type: TypePause, Pause: &Pause{ID: "aaaaaaaa", Until: t0}}); !errors.Is(res.Err, ErrInvalid) {
		t.Fatalf("pause until the past: %v", res.Err)
	}
}

func TestRunsAndOutputStayBounded(t *testing.T) {
	f := New()
	create(t, f, t0, "aaaaaaaa", "chatty", 60)
	big := strings.Repeat("x", MaxOutputBytes)
	for i := range 250 {
		signal(t, f, t0.Add(time.Duration(i)*time.Second), "aaaaaaaa", SignalLog, "", -1, big)
	}
	c, _ := f.Get("aaaaaaaa")
	total := 0
	for _, r := range c.Job.Runs {
		total += len(r.Output)
	}
	if len(c.Job.Runs) != maxRuns || total > maxCanaryOutput || c.Job.Runs[maxRuns-1].Output != big {
		t.Fatalf("%d runs, %d bytes of output", len(c.Job.Runs), total)
	}
	cut := CutOutput([]byte(strings.Repeat("é", MaxOutputBytes)))
	if !strings.HasSuffix(cut, outputCutMark) || len(cut) > MaxOutputBytes+len(outputCutMark) {
		t.Fatalf("cut output is %d bytes", len(cut))
	}
	if res := signal(t, f, t0, "aaaaaaaa", SignalSuccess, strings.Repeat("r", 200), 0, ""); !errors.Is(res.Err, ErrInvalid) {
		t.Fatalf("long rid: %v", res.Err)
	}
}

func TestSignalsNeedVersion3(t *testing.T) {
	for _, cmd := range []Command{
		{Type: TypeSignal, Signal: &Signal{ID: "aaaaaaaa", Kind: SignalStart}},
		{Type: TypeExpirePause, ExpirePause: &ExpirePause{ID: "aaaaaaaa"}},
		{Type: TypePause, Pause: &Pause{ID: "aaaaaaaa", Until: t0}},
		{Type: TypeCreate, Create: &Create{ID: "aaaaaaaa", Settings: Settings{TZ: ptr("Europe/Berlin")}}},
	} {
		if cmd.Needs() != 3 {
			t.Errorf("%s needs %d", cmd.Type, cmd.Needs())
		}
	}
	if (&Command{Type: TypeTrigger, Trigger: &Trigger{ID: "aaaaaaaa"}}).Needs() != 1 {
		t.Error("a plain trigger must stay version 1")
	}
}

func TestJobSurvivesSnapshotAndWire(t *testing.T) {
	f := New()
	create(t, f, t0, "aaaaaaaa", "s", 60)
	signal(t, f, t0.Add(time.Second), "aaaaaaaa", SignalStart, "r", -1, "")
	signal(t, f, t0.Add(2*time.Second), "aaaaaaaa", SignalFail, "r", 7, "out")
	g := restoredCopy(t, f)
	a, _ := f.Get("aaaaaaaa")
	b, _ := g.Get("aaaaaaaa")
	if a.Job == nil || b.Job == nil || len(b.Job.Runs) != 1 || b.Job.Runs[0].Output != "out" || !b.Job.Failed {
		t.Fatalf("restored job = %+v", b.Job)
	}
	if g.Outbox()[0].ExitStatus != 7 {
		t.Fatalf("restored outbox = %+v", g.Outbox())
	}
	data, _ := a.MarshalBinary()
	var c Canary
	if err := c.UnmarshalBinary(data); err != nil || c.Job == nil || c.Job.LastExitStatus != 7 {
		t.Fatalf("wire round trip: %v %+v", err, c.Job)
	}
}

// TestOutputWithInvalidBytesIsNeverRefused: replacing invalid bytes makes output longer;
// the cut comes after the replacement, so a job's report is never refused for it.
func TestOutputWithInvalidBytesIsNeverRefused(t *testing.T) {
	f := New()
	create(t, f, t0, "aaaaaaaa", "latin", 60)
	for _, n := range []int{100, 4000, 5000, MaxOutputBytes, MaxOutputBytes + 1} {
		out := CutOutput([]byte(strings.Repeat("\xffa", n/2)))
		if len(out) > MaxOutputBytes+len(outputCutMark) {
			t.Fatalf("%d bytes in: %d out", n, len(out))
		}
		if res := signal(t, f, t0.Add(time.Second), "aaaaaaaa", SignalFail, "", 2, out); res.Err != nil {
			t.Fatalf("%d bytes: %v", n, res.Err)
		}
	}
}

// TestEndsThatCannotBePairedStillEndTheStart: an end without a run id, or whose start
// dropped out of the runs kept, ends the started state, so max runtime cannot make a
// finished job late; an end of another run leaves the newest start running.
func TestEndsThatCannotBePairedStillEndTheStart(t *testing.T) {
	f := New()
	create(t, f, t0, "aaaaaaaa", "pairs", 3600)
	signal(t, f, t0.Add(time.Second), "aaaaaaaa", SignalStart, "x", -1, "")
	c := signal(t, f, t0.Add(3*time.Second), "aaaaaaaa", SignalSuccess, "", 0, "").Canary
	if c.State() != "up" || c.Job.LastDuration != 2*time.Second {
		t.Fatalf("no-rid end: state %s, duration %v", c.State(), c.Job.LastDuration)
	}

	signal(t, f, t0.Add(4*time.Second), "aaaaaaaa", SignalStart, "x", -1, "")
	for i := range maxRuns {
		signal(t, f, t0.Add(5*time.Second+time.Duration(i)*time.Millisecond), "aaaaaaaa", SignalLog, "", -1, "")
	}
	c = signal(t, f, t0.Add(10*time.Second), "aaaaaaaa", SignalSuccess, "x", 0, "").Canary
	if c.State() != "up" || c.Job.LastDuration != 6*time.Second {
		t.Fatalf("end of a dropped start: state %s, duration %v", c.State(), c.Job.LastDuration)
	}

	signal(t, f, t0.Add(11*time.Second), "aaaaaaaa", SignalStart, "a", -1, "")
	signal(t, f, t0.Add(12*time.Second), "aaaaaaaa", SignalStart, "b", -1, "")
	c = signal(t, f, t0.Add(13*time.Second), "aaaaaaaa", SignalSuccess, "b", 0, "").Canary
	if c.State() != "started" || c.Job.StartedRID != "a" || !c.Job.Started.Equal(t0.Add(11*time.Second)) {
		t.Fatalf("overlapping runs: %s %+v", c.State(), c.Job)
	}

	// A second start with the same run id leaves the first unfinished, not running.
	signal(t, f, t0.Add(14*time.Second), "aaaaaaaa", SignalStart, "a", -1, "")
	c = signal(t, f, t0.Add(15*time.Second), "aaaaaaaa", SignalSuccess, "a", 0, "").Canary
	if c.State() != "up" || openRun(c.Job.Runs, "a") >= 0 {
		t.Fatalf("restarted run: %s %+v", c.State(), c.Job.Runs[len(c.Job.Runs)-3:])
	}
}

// TestTimingUpdateKeepsAnOverrunLate: an update that moves the deadline of a canary
// late from an overrun does not resume it while the run is still over its max runtime.
func TestTimingUpdateKeepsAnOverrunLate(t *testing.T) {
	f := New()
	max := 2 * time.Second
	apply(t, f, t0, Command{Type: TypeCreate, Create: &Create{ID: "aaaaaaaa", Name: "flap", Periodicity: Periodicity{Seconds: 3600}, Settings: Settings{MaxRuntime: &max}}})
	signal(t, f, t0.Add(time.Second), "aaaaaaaa", SignalStart, "", -1, "")
	apply(t, f, t0.Add(3*time.Second), Command{Type: TypeMarkLate, MarkLate: &MarkLate{ID: "aaaaaaaa"}})
	grace := 5 * time.Second
	res := apply(t, f, t0.Add(4*time.Second), Command{Type: TypeUpdate, Update: &Update{ID: "aaaaaaaa", Settings: Settings{Grace: &grace}}})
	if res.Err != nil || !res.Canary.Late || !equalKinds(kinds(f), []Kind{KindOverran}) {
		t.Fatalf("update: late %v, outbox %v", res.Canary.Late, kinds(f))
	}
}
