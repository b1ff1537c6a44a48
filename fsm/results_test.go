package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestResultsRoundTrip(t *testing.T) {
	canary := &Canary{
		ID: "abcdefgh", Name: "Nightly Backup", Slug: "nightly-backup", Description: "ünïcode",
		Periodicity: Periodicity{Seconds: 3600}, Emails: []string{"a@example.com"}, Late: true,
		Deadline: time.Date(2026, 11, 24, 15, 0, 0, 123456000, time.UTC),
		History:  NewHistory(NewHistoryEntry(time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC), "Triggered")),
	}
	results := []Result{
		{},
		{Canary: canary, Recovered: true, Unpaused: true, Changed: true},
		{Err: ErrNotFound},
		{Err: fmt.Errorf("%w: canary x already exists with identifier y", ErrAlreadyExists)},
		{Err: invalid("name must not be empty")},
		{Err: errors.New("an error no version names")},
		{Import: &ImportOutcome{Created: []string{"a"}, Conflicts: []ImportConflict{{ID: "b", Error: "differs"}}}},
	}
	wire, err := EncodeResults(results)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeResults(wire)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(results) {
		t.Fatalf("%d results decoded, want %d", len(got), len(results))
	}
	again, err := EncodeResults(got)
	if err != nil || !bytes.Equal(again, wire) {
		t.Errorf("re-encoding the decoded results differs (%v)", err)
	}
	for i, want := range results {
		g := got[i]
		if g.Recovered != want.Recovered || g.Unpaused != want.Unpaused || g.Changed != want.Changed {
			t.Errorf("result %d: flags %+v, want %+v", i, g, want)
		}
		if (g.Err == nil) != (want.Err == nil) || (g.Err != nil && g.Err.Error() != want.Err.Error()) {
			t.Errorf("result %d: error %v, want %v", i, g.Err, want.Err)
		}
		for _, named := range relayedErrors {
			if want.Err != nil && errors.Is(want.Err, named) != errors.Is(g.Err, named) {
				t.Errorf("result %d: errors.Is(%v, %v) changed in transit", i, g.Err, named)
			}
		}
	}
	if c := got[1].Canary; c == nil || c.ID != canary.ID || c.Name != canary.Name || !c.Deadline.Equal(canary.Deadline) ||
		!reflect.DeepEqual(c.History, canary.History) || !c.Late {
		t.Errorf("canary came back as %+v", got[1].Canary)
	}
	if imp := got[6].Import; imp == nil || len(imp.Created) != 1 || imp.Conflicts[0].ID != "b" {
		t.Errorf("import outcome came back as %+v", got[6].Import)
	}
}

func TestDecodeResultsRejectsDamage(t *testing.T) {
	wire, err := EncodeResults([]Result{{Canary: &Canary{ID: "abcdefgh", Name: "x"}}, {Err: ErrNotFound}})
	if err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut < len(wire); cut++ {
		if _, err := DecodeResults(wire[:cut]); err == nil {
			t.Errorf("results cut to %d of %d bytes decoded", cut, len(wire))
		}
	}
	if _, err := DecodeResults(append(wire, 0)); err == nil {
		t.Error("trailing byte accepted")
	}
	if _, err := DecodeResults(append([]byte{9}, wire[1:]...)); err == nil {
		t.Error("unknown format accepted")
	}
}
