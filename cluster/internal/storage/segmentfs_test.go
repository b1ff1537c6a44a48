package storage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/cluster/internal/hclogslog"
	"github.com/hashicorp/raft"
	"github.com/hashicorp/raft-wal/types"
)

func newTestSegmentFS(t *testing.T, size uint64) *segmentFS {
	t.Helper()
	s := newSegmentFS(hclogslog.New(newTestLogger(t), "wal"), size)
	t.Cleanup(s.close)
	return s
}

// waitForSpare waits until dir holds a spare of size bytes.
func waitForSpare(t *testing.T, dir string, size int64) os.FileInfo {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := os.Stat(filepath.Join(dir, spareName))
		if err == nil && info.Size() == size {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("no spare of %d bytes in %s (last stat: %v, %v)", size, dir, info, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSegmentFSSpare(t *testing.T) {
	t.Parallel()
	const size = 3 << 20 // not a whole number of writeback windows or chunks
	tests := []struct {
		name      string
		writeTo   int64 // the first segment is written up to here
		wantSpare bool
	}{
		{name: "a segment up to its middle asks for nothing", writeTo: size / 2},
		{name: "a write past the middle prepares a spare", writeTo: size/2 + 1, wantSpare: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := newTestSegmentFS(t, size)
			first, err := s.Create(dir, "first.wal", size)
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			if _, err := first.WriteAt([]byte("entry"), tt.writeTo-5); err != nil {
				t.Fatal(err)
			}
			if err := first.Sync(); err != nil {
				t.Fatal(err)
			}
			if !tt.wantSpare {
				s.close() // anything started has finished
				if _, err := os.Stat(filepath.Join(dir, spareName)); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("spare after a write to the middle: %v", err)
				}
				return
			}
			spare := waitForSpare(t, dir, size)
			second, err := s.Create(dir, "second.wal", size)
			if err != nil {
				t.Fatal(err)
			}
			defer second.Close()
			made, err := os.Stat(filepath.Join(dir, "second.wal"))
			if err != nil {
				t.Fatal(err)
			}
			if !os.SameFile(spare, made) {
				t.Fatal("the second segment was not made from the spare")
			}
			if _, err := os.Stat(filepath.Join(dir, spareName)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the spare is still there after use: %v", err)
			}
			got := make([]byte, size)
			if _, err := second.ReadAt(got, 0); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, make([]byte, size)) {
				t.Fatal("a segment made from the spare does not read as zeros")
			}
			if _, err := second.WriteAt([]byte("next"), 0); err != nil {
				t.Fatal(err)
			}
			if err := second.Sync(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSegmentFSCreateRefusesAnExistingSegment(t *testing.T) {
	t.Parallel()
	const size = 1 << 20
	dir := t.TempDir()
	s := newTestSegmentFS(t, size)
	s.prepareSpare(dir)
	waitForSpare(t, dir, size)
	if err := os.WriteFile(filepath.Join(dir, "taken.wal"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(dir, "taken.wal", size); err == nil {
		t.Fatal("Create over an existing segment succeeded")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "taken.wal")); string(got) != "data" {
		t.Fatalf("the existing segment was replaced: %q", got)
	}
	waitForSpare(t, dir, size) // still there for the next segment
}

func TestSegmentFSIgnoresUnusableSpares(t *testing.T) {
	t.Parallel()
	const size = 1 << 20
	tests := []struct {
		name  string
		left  string // what an earlier run left in the directory
		bytes int
	}{
		{name: "spare of another segment size", left: spareName, bytes: size / 2},
		{name: "spare whose writing was interrupted", left: spareTempName, bytes: size},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			junk := bytes.Repeat([]byte{0xff}, tt.bytes)
			if err := os.WriteFile(filepath.Join(dir, tt.left), junk, 0o644); err != nil {
				t.Fatal(err)
			}
			s := newTestSegmentFS(t, size)
			f, err := s.Create(dir, "seg.wal", size)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got := make([]byte, 4096)
			if _, err := f.ReadAt(got, 0); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, make([]byte, len(got))) {
				t.Fatal("a new segment holds what was left in the directory")
			}
			// The next spare replaces what was left.
			s.prepareSpare(dir)
			waitForSpare(t, dir, size)
			s.close()
			if _, err := os.Stat(filepath.Join(dir, spareTempName)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s left behind: %v", spareTempName, err)
			}
		})
	}
}

// waitSpareWritten waits until s is writing no spare: one asked for is then ready.
// (prepareSpare marks one as being written before it returns, and the mark is cleared
// only after the spare is renamed into place, or has failed, which the log says.)
func waitSpareWritten(t *testing.T, s *segmentFS) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.preparing.Load() {
		if time.Now().After(deadline) {
			t.Fatal("a spare segment was still being written after 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// smallSegment is the segment size of the tests' logs: a few hundred entries fill one.
const smallSegment = 64 << 10

// openSmallWAL opens the WAL in dir with segments of smallSegment bytes.
func openSmallWAL(t *testing.T, dir string) *logStore {
	t.Helper()
	w, err := openWAL(dir, nil, hclogslog.New(newTestLogger(t), "wal"), smallSegment)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestWALOnSpareSegments writes a log across many segments made from spares, reopens
// it, and reads every entry back: raft-wal must find the end of each segment in a file
// written full of zeros as it does in a preallocated one.
func TestWALOnSpareSegments(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), walDirName)
	w := openSmallWAL(t, dir)
	const last = 3000
	payload := bytes.Repeat([]byte("x"), 200)
	for i := uint64(1); i <= last; i += 10 {
		batch := make([]*raft.Log, 0, 10)
		for j := i; j < i+10; j++ {
			batch = append(batch, &raft.Log{Index: j, Term: 1, Type: raft.LogCommand, Data: append([]byte{byte(j)}, payload...)})
		}
		if err := w.StoreLogs(batch); err != nil {
			t.Fatal(err)
		}
		// In a real log the spare asked for at a segment's middle has the time the second
		// half takes to fill; here the second half fills in microseconds. So once one is
		// asked for, wait until it is ready (a fixed 20 ms sleep every 200 entries was not
		// always enough on a loaded machine).
		waitSpareWritten(t, w.fs)
	}
	segments, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	if len(segments) < 5 {
		t.Fatalf("the log fills %d segments; the test needs several", len(segments))
	}
	if made := w.fs.fromSpare.Load(); made != int64(len(segments)) {
		t.Fatalf("%d of the %d segments were made from a spare, want all", made, len(segments))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = openSmallWAL(t, dir)
	defer w.Close()
	if first, end := indexRange(t, w); first != 1 || end != last {
		t.Fatalf("reopened log holds %d-%d, want 1-%d", first, end, last)
	}
	for i := uint64(1); i <= last; i++ {
		var l raft.Log
		if err := w.GetLog(i, &l); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if l.Data[0] != byte(i) || !bytes.Equal(l.Data[1:], payload) {
			t.Fatalf("entry %d reads back wrong", i)
		}
	}
	// Appends go on after the reopen, in the recovered tail and beyond.
	if err := w.StoreLogs([]*raft.Log{{Index: last + 1, Term: 2, Type: raft.LogCommand, Data: []byte("after")}}); err != nil {
		t.Fatal(err)
	}
}

// TestSegmentSyncsItsDirectoryOnce: an entry is acknowledged once the segment's Sync
// returns, so the first Sync of a segment whose name may not be durable must sync the
// directory as well: a new one, and one reopened after a crash that may have come
// between a spare's rename and its first sync.
func TestSegmentSyncsItsDirectoryOnce(t *testing.T) {
	t.Parallel()
	const size = 1 << 20
	tests := []struct {
		name string
		open func(t *testing.T, s *segmentFS, dir string) types.WritableFile
	}{
		{name: "made from the spare", open: func(t *testing.T, s *segmentFS, dir string) types.WritableFile {
			if err := s.writeSpare(dir); err != nil {
				t.Fatal(err)
			}
			f, err := s.Create(dir, "seg.wal", size)
			if err != nil {
				t.Fatal(err)
			}
			if s.fromSpare.Load() != 1 {
				t.Fatal("not made from the spare")
			}
			return f
		}},
		{name: "created without a spare", open: func(t *testing.T, s *segmentFS, dir string) types.WritableFile {
			f, err := s.Create(dir, "seg.wal", size)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}},
		{name: "reopened after a restart", open: func(t *testing.T, s *segmentFS, dir string) types.WritableFile {
			if err := os.WriteFile(filepath.Join(dir, "seg.wal"), make([]byte, size), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := s.OpenWriter(dir, "seg.wal")
			if err != nil {
				t.Fatal(err)
			}
			return f
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := newTestSegmentFS(t, size)
			var synced []string
			s.sync = func(d string) error {
				synced = append(synced, d)
				return syncDir(d)
			}
			f := tt.open(t, s, dir)
			defer f.Close()
			for i := range 3 {
				if _, err := f.WriteAt([]byte("entry"), int64(i*5)); err != nil {
					t.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					t.Fatal(err)
				}
				if len(synced) != 1 || synced[0] != dir {
					t.Fatalf("after sync %d the directory was synced %d times (%v), want once, at the first", i+1, len(synced), synced)
				}
			}
		})
	}
}

// TestOpenWALDiscardsSpareFoundAtStart: a spare found when the log opens may hold
// entries of a segment that a crash renamed back (see openWAL); no segment may be made
// from it.
func TestOpenWALDiscardsSpareFoundAtStart(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), walDirName)
	w := openSmallWAL(t, dir)
	if err := w.StoreLogs(entries(1, 10)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	junk := bytes.Repeat([]byte("left over "), smallSegment/10+1)[:smallSegment]
	if err := os.WriteFile(filepath.Join(dir, spareName), junk, 0o644); err != nil {
		t.Fatal(err)
	}
	w = openSmallWAL(t, dir)
	defer w.Close()
	// Fill the tail segment until the log moves on to a new one, which is then almost
	// empty: whatever it was made from shows past its first entry.
	last := uint64(10)
	for segments := 1; segments < 2; {
		last++
		l := &raft.Log{Index: last, Term: 1, Type: raft.LogCommand, Data: bytes.Repeat([]byte{byte(last)}, 500)}
		if err := w.StoreLogs([]*raft.Log{l}); err != nil {
			t.Fatal(err)
		}
		found, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
		segments = len(found)
	}
	segments, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	for _, seg := range segments {
		data, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, junk[:64]) {
			t.Fatalf("segment %s was made from the spare found at start", filepath.Base(seg))
		}
	}
	if first, end := indexRange(t, w); first != 1 || end != last {
		t.Fatalf("log holds %d-%d, want 1-%d", first, end, last)
	}
}
