package propose

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
)

func TestResultsRoundTrip(t *testing.T) {
	canary := &fsm.Canary{
		ID: "abcdefgh", Name: "Nightly Backup", Slug: "nightly-backup", Description: "ünïcode",
		Periodicity: fsm.Periodicity{Seconds: 3600}, Emails: []string{"a@example.com"}, Late: true,
		Deadline: time.Date(2026, 11, 24, 15, 0, 0, 123456000, time.UTC),
		History:  fsm.NewHistory(fsm.NewHistoryEntry(time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC), "Triggered")),
	}
	results := []fsm.Result{
		{},
		{Canary: canary, Recovered: true, Unpaused: true, Changed: true},
		{Err: fsm.ErrNotFound},
		{Err: fmt.Errorf("%w: canary x already exists with identifier y", fsm.ErrAlreadyExists)},
		{Err: fmt.Errorf("%w: name must not be empty", fsm.ErrInvalid)},
		{Err: errors.New("an error no version names")},
		{Import: &fsm.ImportOutcome{Created: []string{"a"}, Conflicts: []fsm.ImportConflict{{ID: "b", Error: "differs"}}}},
	}
	outs := make([]outcome, len(results))
	for i, r := range results {
		outs[i] = outcome{res: r}
	}
	outs = append(outs, outcome{err: errors.New("leadership lost")})
	wire, err := encodeResults(outs)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := decodeResults(wire)
	if err != nil {
		t.Fatal(err)
	}
	if len(decoded) != len(outs) {
		t.Fatalf("%d results decoded, want %d", len(decoded), len(outs))
	}
	if last := decoded[len(decoded)-1]; !errors.Is(last.err, ErrUncommitted) || !strings.Contains(last.err.Error(), "leadership lost") {
		t.Errorf("an uncommitted command came back as %+v", last)
	}
	decoded[len(decoded)-1].err = errors.New("leadership lost")
	again, err := encodeResults(decoded)
	got := make([]fsm.Result, len(results))
	for i := range results {
		got[i] = decoded[i].res
	}
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
	wire, err := encodeResults([]outcome{{res: fsm.Result{Canary: &fsm.Canary{ID: "abcdefgh", Name: "x"}}}, {res: fsm.Result{Err: fsm.ErrNotFound}}})
	if err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut < len(wire); cut++ {
		if _, err := decodeResults(wire[:cut]); err == nil {
			t.Errorf("results cut to %d of %d bytes decoded", cut, len(wire))
		}
	}
	if _, err := decodeResults(append(wire, 0)); err == nil {
		t.Error("trailing byte accepted")
	}
	if _, err := decodeResults(append([]byte{9}, wire[1:]...)); err == nil {
		t.Error("unknown format accepted")
	}
}
