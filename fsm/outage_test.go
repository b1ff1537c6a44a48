package fsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"
)

func TestOutageMovesDeadlinesInTheGap(t *testing.T) {
	f := New()
	from, to := t0.Add(time.Minute), t0.Add(3*time.Minute)
	create(t, f, t0, "aaaaaaaa", "due in the gap", 90)  // t0+90s
	create(t, f, t0, "bbbbbbbb", "due before", 30)      // t0+30s
	create(t, f, t0, "cccccccc", "due after", 600)      // t0+10m
	create(t, f, t0, "dddddddd", "paused", 90)          // paused below
	create(t, f, t0, "eeeeeeee", "due at the end", 180) // exactly t0+3m: in the gap
	apply(t, f, t0.Add(time.Second), Command{Type: TypePause, Pause: &Pause{ID: "dddddddd"}})

	res := apply(t, f, to, Command{Type: TypeOutage, Outage: &Outage{From: from, To: to, AdminEmails: []string{"admin@example.org"}}})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	want := map[string]time.Time{
		"aaaaaaaa": t0.Add(90*time.Second + 2*time.Minute),
		"bbbbbbbb": t0.Add(30 * time.Second),
		"cccccccc": t0.Add(10 * time.Minute),
		"eeeeeeee": t0.Add(5 * time.Minute),
	}
	for id, deadline := range want {
		c, _ := f.Get(id)
		moved := comments(c)[0] == "Deadline moved: monitor unavailable 2015-03-19T01:09:44Z to 2015-03-19T01:11:44Z"
		if !c.Deadline.Equal(deadline) {
			t.Errorf("%s: deadline %v, want %v", id, c.Deadline, deadline)
		}
		if shouldMove := id == "aaaaaaaa" || id == "eeeeeeee"; moved != shouldMove {
			t.Errorf("%s: history %q", id, comments(c)[0])
		}
	}
	if c, _ := f.Get("dddddddd"); !c.Deadline.IsZero() || len(comments(c)) != 2 {
		t.Errorf("paused canary changed: %+v", c)
	}
	out := f.Outbox()
	if len(out) != 1 || out[0].Kind != KindOutage || out[0].CanaryID != "" || !out[0].Deadline.Equal(from) || !out[0].At.Equal(to) {
		t.Fatalf("outbox = %+v", out)
	}
	// The record survives a snapshot.
	if g := restoredCopy(t, f); len(g.Outbox()) != 1 || g.Outbox()[0].Kind != KindOutage {
		t.Fatal("outage record lost in a snapshot")
	}
	if res := apply(t, f, to, Command{Type: TypeOutage, Outage: &Outage{From: to, To: from}}); !errors.Is(res.Err, ErrInvalid) {
		t.Fatalf("backwards outage: %v", res.Err)
	}
}

func TestTickAdvancesTheClock(t *testing.T) {
	f := New()
	apply(t, f, t0, Command{Type: TypeTick, Tick: &Tick{}})
	if !f.Clock().Equal(t0) {
		t.Fatalf("clock %v", f.Clock())
	}
}

func TestRenotifyRepeatsWhileLate(t *testing.T) {
	f := New()
	every := 10 * time.Second
	apply(t, f, t0, Command{Type: TypeCreate, Create: &Create{ID: "aaaaaaaa", Name: "r", Periodicity: Periodicity{Seconds: 60}, Emails: []string{"a@b.org"}, Settings: Settings{Renotify: &every}}})
	late := t0.Add(time.Minute)
	apply(t, f, late, Command{Type: TypeMarkLate, MarkLate: &MarkLate{ID: "aaaaaaaa"}})
	c, _ := f.Get("aaaaaaaa")
	if wake, ok := c.Wake(); !ok || !wake.Equal(late.Add(every)) {
		t.Fatalf("wake %v %v", wake, ok)
	}
	repeat := Command{Type: TypeRenotify, Renotify: &Renotify{ID: "aaaaaaaa"}}
	if res := apply(t, f, late.Add(9*time.Second), repeat); res.Changed {
		t.Fatal("repeated early")
	}
	apply(t, f, late.Add(every), repeat)
	if res := apply(t, f, late.Add(every+time.Second), repeat); res.Changed {
		t.Fatal("repeated twice in one interval")
	}
	apply(t, f, late.Add(2*every), repeat)
	trigger(t, f, late.Add(2*every+time.Second), "aaaaaaaa", "")
	if res := apply(t, f, late.Add(5*every), repeat); res.Changed {
		t.Fatal("repeated after the canary resumed")
	}
	if got := kinds(f); !equalKinds(got, []Kind{KindLate, KindRepeat, KindRepeat, KindResumed}) {
		t.Fatalf("outbox %v", got)
	}
	short := 500 * time.Millisecond
	if res := apply(t, f, late, Command{Type: TypeUpdate, Update: &Update{ID: "aaaaaaaa", Settings: Settings{Renotify: &short}}}); !errors.Is(res.Err, ErrInvalid) {
		t.Fatalf("renotify of half a second: %v", res.Err)
	}
}

// persistBytes is what Persist writes for f's state now.
func persistBytes(t *testing.T, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := snap.(*snapshot).encode(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestMembersReportedDownAreReplicated: the voters reported down, and not back, are
// state: a new leader reads them instead of reporting them again, and a snapshot keeps
// them. A snapshot without any is still written in the format before them.
func TestMembersReportedDownAreReplicated(t *testing.T) {
	f := New()
	down := t0.Add(-time.Minute)
	formatOf := func(b []byte) uint64 {
		format, _ := binary.Uvarint(b[len(snapshotMagic):])
		return format
	}
	if got := formatOf(persistBytes(t, f)); got != snapshotFormat {
		t.Errorf("a snapshot with no reports has format %d, want %d", got, snapshotFormat)
	}
	for _, e := range []AdminEvent{
		{Kind: KindMemberDown, Subject: "n2", Since: down},
		{Kind: KindMemberDown, Subject: "n3", Since: down},
		{Kind: KindMemberUp, Subject: "n3", Since: down},
	} {
		if r := apply(t, f, t0, Command{Type: TypeAdminEvent, AdminEvent: &e}); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	want := map[string]time.Time{"n2": down}
	if got := f.MembersReportedDown(); !reflect.DeepEqual(got, want) {
		t.Fatalf("reported down: %v, want %v", got, want)
	}
	data := persistBytes(t, f)
	if got := formatOf(data); got != reportsFormat {
		t.Errorf("a snapshot with reports has format %d, want %d", got, reportsFormat)
	}
	restored := New()
	if err := restored.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	if got := restored.MembersReportedDown(); !reflect.DeepEqual(got, want) {
		t.Errorf("after a restore: %v, want %v", got, want)
	}
	if !bytes.Equal(persistBytes(t, restored), data) {
		t.Error("the restored state snapshots to other bytes")
	}
}
