package fsm

import (
	"bufio"
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// encodeState writes a snapshot of the given canaries, in the order given, and outbox
// as Persist would, so that a test can make states Apply never makes.
func encodeState(t *testing.T, nextSeq uint64, canaries []*Canary, outbox ...Notification) []byte {
	t.Helper()
	var buf bytes.Buffer
	e := &encoder{w: bufio.NewWriter(&buf)}
	e.buf = append(e.buf, snapshotMagic...)
	e.uvarint(snapshotFormat)
	e.uvarint(nextSeq)
	e.time(t0)
	e.uvarint(uint64(len(canaries)))
	e.uvarint(uint64(len(outbox)))
	e.uvarint(0) // channels
	for _, c := range canaries {
		e.canary(c)
	}
	for i := range outbox {
		e.notification(&outbox[i])
	}
	if err := errors.Join(e.flush(), e.w.Flush()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func snapshotCanary(id, slug string, p Periodicity) *Canary {
	return &Canary{ID: id, Name: "job " + id, Slug: slug, Periodicity: p}
}

// TestValidateSnapshot: ValidateSnapshot accepts every snapshot Persist writes and
// refuses, with a reason, anything Restore would fail on or that breaks what the state
// machine relies on, without touching the state.
func TestValidateSnapshot(t *testing.T) {
	f := New()
	for _, entry := range randomLog(rand.New(rand.NewPCG(5, 6)), 500) {
		f.Apply(&raft.Log{Type: raft.LogCommand, Data: entry})
	}
	good := snapshotBytes(t, f)
	every := Periodicity{Seconds: 60}

	tests := []struct {
		name string
		data []byte
		want string // "" for a valid snapshot; else part of the error
	}{
		{"a snapshot Persist wrote", good, ""},
		{"an empty state", snapshotBytes(t, New()), ""},
		{"nothing at all", nil, "not a coal-mine snapshot"},
		{"not a snapshot", []byte("hello, this is not a snapshot"), "not a coal-mine snapshot"},
		{"JSON", []byte(`{"format":1}`), "not a coal-mine snapshot"},
		{"an unknown format", append(append([]byte(nil), snapshotMagic...), 7), "unknown format 7"},
		{"a byte after the last record", append(append([]byte(nil), good...), 0), "data after the last record"},
		{"half of it", good[:len(good)/2], "unexpected EOF"},
		{"the same id twice", encodeState(t, 1, []*Canary{snapshotCanary("aaaaaaaa", "a", every), snapshotCanary("aaaaaaaa", "b", every)}), "ids out of order or repeated"},
		{"ids out of order", encodeState(t, 1, []*Canary{snapshotCanary("bbbbbbbb", "b", every), snapshotCanary("aaaaaaaa", "a", every)}), "ids out of order or repeated"},
		{"a malformed id", encodeState(t, 1, []*Canary{snapshotCanary("AAAA", "a", every)}), `canary id "AAAA"`},
		{"a slug used twice", encodeState(t, 1, []*Canary{snapshotCanary("aaaaaaaa", "a", every), snapshotCanary("bbbbbbbb", "a", every)}), "2 canaries but 1 distinct slugs"},
		{"an empty slug", encodeState(t, 1, []*Canary{snapshotCanary("aaaaaaaa", "", every)}), "malformed name or slug"},
		{"a negative periodicity", encodeState(t, 1, []*Canary{snapshotCanary("aaaaaaaa", "a", Periodicity{Seconds: -1})}), "periodicity -1 seconds"},
		{"an infinite periodicity", encodeState(t, 1, []*Canary{snapshotCanary("aaaaaaaa", "a", Periodicity{Seconds: math.Inf(1)})}), "periodicity +Inf seconds"},
		{"a malformed schedule", encodeState(t, 1, []*Canary{snapshotCanary("aaaaaaaa", "a", Periodicity{Schedule: "* * nonsense"})}), "canary aaaaaaaa: schedule"},
		{"a next sequence of 0", encodeState(t, 0, nil), "next notification sequence is 0"},
		{"a notification not yet numbered", encodeState(t, 3, nil, Notification{Seq: 3, Kind: KindLate, CanaryID: "aaaaaaaa"}), "notification sequence 3 outside 1-2"},
		{"a notification of unknown kind", encodeState(t, 3, nil, Notification{Seq: 1, Kind: "boom", CanaryID: "aaaaaaaa"}), `unknown kind "boom"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshotBytes(t, f)
			err := f.ValidateSnapshot(bytes.NewReader(tt.data))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && err == nil:
				t.Fatal("accepted")
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
			if !bytes.Equal(snapshotBytes(t, f), before) {
				t.Fatal("validating a snapshot changed the state")
			}
			if tt.want == "" {
				g := New()
				if err := g.Restore(nopCloser{bytes.NewReader(tt.data)}); err != nil {
					t.Fatalf("a valid snapshot does not restore: %v", err)
				}
			}
		})
	}
}

// TestValidateSnapshotRefusesEveryCut: a snapshot cut short anywhere is refused, never
// taken for a smaller state.
func TestValidateSnapshotRefusesEveryCut(t *testing.T) {
	f := New()
	for _, entry := range randomLog(rand.New(rand.NewPCG(7, 8)), 60) {
		f.Apply(&raft.Log{Type: raft.LogCommand, Data: entry})
	}
	good := snapshotBytes(t, f)
	for cut := range len(good) {
		if err := f.ValidateSnapshot(bytes.NewReader(good[:cut])); err == nil {
			t.Fatalf("the snapshot cut at %d of %d bytes was accepted", cut, len(good))
		}
	}
}
