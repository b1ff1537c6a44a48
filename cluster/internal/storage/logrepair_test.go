package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/cluster/internal/hclogslog"
	"github.com/hashicorp/raft"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
	"go.etcd.io/bbolt"
)

// storeEntries appends entries first..last to s in batches of ten, each carrying its
// index in its data.
func storeEntries(t *testing.T, s raft.LogStore, first, last, term uint64) {
	t.Helper()
	payload := bytes.Repeat([]byte("x"), 200)
	for i := first; i <= last; i += 10 {
		var batch []*raft.Log
		for j := i; j <= min(i+9, last); j++ {
			batch = append(batch, &raft.Log{Index: j, Term: term, Type: raft.LogCommand, Data: fmt.Appendf(append([]byte(nil), payload...), "%d", j)})
		}
		if err := s.StoreLogs(batch); err != nil {
			t.Fatal(err)
		}
	}
}

// checkEntries requires s to hold exactly first..last, as storeEntries wrote them.
func checkEntries(t *testing.T, s raft.LogStore, first, last uint64) {
	t.Helper()
	if f, l := indexRange(t, s); f != first || l != last {
		t.Fatalf("log holds %d-%d, want %d-%d", f, l, first, last)
	}
	for i := first; i <= last; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if !bytes.HasSuffix(l.Data, fmt.Appendf(nil, "x%d", i)) || l.Index != i {
			t.Fatalf("entry %d reads back as index %d, %q", i, l.Index, l.Data[len(l.Data)-8:])
		}
	}
}

// TestWALTailTruncationSurvivesReopen truncates the log's tail as a deposed leader's
// does (raft's "clearing log suffix"), closes the log and opens it again: with raft-wal
// v0.4.0 the reopened log could not read the truncated segment (hashicorp/raft-wal#31).
func TestWALTailTruncationSurvivesReopen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		written     uint64 // entries 1..written
		truncateTo  uint64 // then entries after this one are deleted
		appendAfter uint64 // then entries up to this one are appended again (0: none)
	}{
		{name: "inside the active segment", written: 100, truncateTo: 95},
		{name: "inside the active segment, then appends", written: 100, truncateTo: 95, appendAfter: 130},
		{name: "across segments", written: 1000, truncateTo: 450},
		{name: "across segments, then appends across more", written: 1000, truncateTo: 450, appendAfter: 1500},
		{name: "everything", written: 100, truncateTo: 0, appendAfter: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), walDirName)
			w := openSmallWAL(t, dir)
			storeEntries(t, w, 1, tt.written, 1)
			if err := w.DeleteRange(tt.truncateTo+1, tt.written); err != nil {
				t.Fatal(err)
			}
			last := tt.truncateTo
			if tt.appendAfter > 0 {
				storeEntries(t, w, tt.truncateTo+1, tt.appendAfter, 2)
				last = tt.appendAfter
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}

			w = openSmallWAL(t, dir)
			defer w.Close()
			first := uint64(1)
			if last == 0 {
				first = 0
			}
			checkEntries(t, w, first, last)
			storeEntries(t, w, last+1, last+15, 3)
			checkEntries(t, w, 1, last+15)
		})
	}
}

// damageLikeRaftWAL040 leaves the log in dir as raft-wal v0.4.0 left a log whose tail
// it truncated: the newest sealed segment has no index block, on disk or in the
// metadata. It returns that segment's file.
func damageLikeRaftWAL040(t *testing.T, dir string) string {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, metadb.FileName), 0o644, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var damaged string
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(metadb.MetaBucket))
		var state types.PersistentState
		if err := json.Unmarshal(b.Get([]byte(metadb.MetaKey)), &state); err != nil {
			return err
		}
		for i := len(state.Segments) - 1; i >= 0; i-- {
			seg := &state.Segments[i]
			if seg.SealTime.IsZero() {
				continue
			}
			// v0.4.0 wrote neither the index frame (8 bytes of header before IndexStart)
			// nor what follows it: the file reads as zeros from there.
			damaged = filepath.Join(dir, segment.FileName(*seg))
			f, err := os.OpenFile(damaged, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			info, _ := f.Stat()
			start := int64(seg.IndexStart) - 8
			_, werr := f.WriteAt(make([]byte, info.Size()-start), start)
			if err := errors.Join(werr, f.Close()); err != nil {
				return err
			}
			seg.IndexStart = 0
			break
		}
		if damaged == "" {
			return errors.New("no sealed segment to damage")
		}
		raw, err := json.Marshal(state)
		if err != nil {
			return err
		}
		return b.Put([]byte(metadb.MetaKey), raw)
	})
	if err != nil {
		t.Fatal(err)
	}
	return damaged
}

// TestDamagedLogIsRefused: a log that v0.4.0 left unreadable is refused when it is
// opened, with an error that names the segment, instead of the panic raft's first read
// of it causes.
func TestDamagedLogIsRefused(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), walDirName)
	w := openSmallWAL(t, dir)
	storeEntries(t, w, 1, 100, 1)
	if err := w.DeleteRange(96, 100); err != nil {
		t.Fatal(err)
	}
	w.Close()
	damaged := damageLikeRaftWAL040(t, dir)

	_, err := openWAL(dir, nil, hclogslog.New(newTestLogger(t), "wal"), smallSegment)
	if !errors.Is(err, ErrDamagedLog) {
		t.Fatalf("opening the damaged log: %v, want ErrDamagedLog", err)
	}
	if !strings.Contains(err.Error(), damaged) {
		t.Errorf("the error does not name the segment %s: %v", damaged, err)
	}
}

// TestRepairLogSalvagesADamagedLog: RepairLog rebuilds a damaged log with every entry
// it held but those truncated on purpose, keeps the old one aside, and leaves a log
// that opens and takes appends.
func TestRepairLogSalvagesADamagedLog(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	dir := filepath.Join(dataDir, walDirName)
	w := openSmallWAL(t, dir)
	storeEntries(t, w, 1, 1000, 1)
	if err := w.DeleteRange(451, 1000); err != nil { // a sealed segment truncated
		t.Fatal(err)
	}
	storeEntries(t, w, 451, 700, 2) // and a new tail after it
	w.Close()
	damageLikeRaftWAL040(t, dir)

	report, err := RepairLog(dataDir, newTestLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if report.KeptFirst != 1 || report.KeptLast != 700 || report.HeldFirst != 1 || report.HeldLast != 700 || report.Problem != "" {
		t.Errorf("report %+v, want 1-700 held and kept, no problem", report)
	}
	if !strings.HasPrefix(filepath.Base(report.MovedTo), damagedDirPrefix) {
		t.Errorf("damaged log moved to %q", report.MovedTo)
	}
	if _, err := os.Stat(filepath.Join(report.MovedTo, metadb.FileName)); err != nil {
		t.Errorf("the damaged log is not kept: %v", err)
	}
	w, err = openWAL(dir, nil, hclogslog.New(newTestLogger(t), "wal"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	checkEntries(t, w, 1, 700)
	storeEntries(t, w, 701, 710, 3)
}

// TestRepairLogKeepsOnlyWhatJoinsTheSnapshot: raft reads the entries after its newest
// snapshot at start and appends after the last, so a salvaged log that ends before the
// snapshot is dropped (the snapshot has all of it), and one that starts after it too
// (the node then catches up from the leader).
func TestRepairLogKeepsOnlyWhatJoinsTheSnapshot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		first, last        uint64 // entries in the log
		snapshot           uint64 // the newest snapshot's index, 0 for none
		keptFirst, keptEnd uint64
	}{
		{name: "no snapshot", first: 1, last: 300, keptFirst: 1, keptEnd: 300},
		{name: "log overlaps the snapshot", first: 100, last: 300, snapshot: 200, keptFirst: 100, keptEnd: 300},
		{name: "log starts right after the snapshot", first: 201, last: 300, snapshot: 200, keptFirst: 201, keptEnd: 300},
		{name: "log ends before the snapshot", first: 1, last: 150, snapshot: 200},
		{name: "log starts after the snapshot", first: 250, last: 300, snapshot: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := t.TempDir()
			w := openSmallWAL(t, filepath.Join(dataDir, walDirName))
			storeEntries(t, w, tt.first, tt.last, 1)
			w.Close()
			if tt.snapshot > 0 {
				store, err := raft.NewFileSnapshotStore(dataDir, 1, os.Stderr)
				if err != nil {
					t.Fatal(err)
				}
				sink, err := store.Create(raft.SnapshotVersionMax, tt.snapshot, 1, raft.Configuration{}, 1, nil)
				if err != nil {
					t.Fatal(err)
				}
				sink.Write([]byte("state"))
				if err := sink.Close(); err != nil {
					t.Fatal(err)
				}
			}

			report, err := RepairLog(dataDir, newTestLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			if report.KeptFirst != tt.keptFirst || report.KeptLast != tt.keptEnd || report.SnapshotIndex != tt.snapshot {
				t.Errorf("report %+v, want kept %d-%d, snapshot %d", report, tt.keptFirst, tt.keptEnd, tt.snapshot)
			}
			w = openSmallWAL(t, filepath.Join(dataDir, walDirName))
			defer w.Close()
			if tt.keptEnd == 0 {
				if _, last := indexRange(t, w); last != 0 {
					t.Fatalf("the new log holds entries up to %d, want none", last)
				}
				return
			}
			checkEntries(t, w, tt.keptFirst, tt.keptEnd)
		})
	}
}

// TestRepairLogStopsAtUnreadableBytes: salvage copies entries in order up to the first
// one it cannot read, and says where it stopped.
func TestRepairLogStopsAtUnreadableBytes(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	dir := filepath.Join(dataDir, walDirName)
	w := openSmallWAL(t, dir)
	storeEntries(t, w, 1, 1000, 1)
	w.Close()
	// Scribble over the middle of the first segment.
	segments, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	f, err := os.OpenFile(segments[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(bytes.Repeat([]byte{0xff}, 64), 30_000)
	f.Close()

	report, err := RepairLog(dataDir, newTestLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if report.KeptFirst != 1 || report.KeptLast == 0 || report.KeptLast >= 1000 || report.HeldLast != report.KeptLast {
		t.Errorf("report %+v: want entries from 1 up to the damage", report)
	}
	if !strings.Contains(report.Problem, segments[0][len(dataDir):]) {
		t.Errorf("the problem %q does not name %s", report.Problem, segments[0])
	}
	w = openSmallWAL(t, dir)
	defer w.Close()
	checkEntries(t, w, 1, report.KeptLast)
}

// TestRepairLogFinishesAnInterruptedRepair: a repair stopped between moving the old log
// away and moving the new one in is finished by running it again.
func TestRepairLogFinishesAnInterruptedRepair(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	w := openSmallWAL(t, filepath.Join(dataDir, repairDirName))
	storeEntries(t, w, 1, 50, 1)
	w.Close()
	if _, err := RepairLog(dataDir, newTestLogger(t)); err != nil {
		t.Fatal(err)
	}
	w = openSmallWAL(t, filepath.Join(dataDir, walDirName))
	defer w.Close()
	checkEntries(t, w, 1, 50)
}
