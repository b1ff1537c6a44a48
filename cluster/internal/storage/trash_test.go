package storage

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

func writeFile(t *testing.T, path string, size int) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Repeat([]byte{'x'}, size), 0o600); err != nil {
		t.Fatal(err)
	}
}

// trashEmpty is an eventually check.
func trashEmpty(t *testing.T, tr *trash) func() error {
	return func() error {
		if left := dirEntries(t, tr.dir); len(left) > 0 {
			return fmt.Errorf("still in the trash: %v", left)
		}
		return nil
	}
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestTrashDeletesInTheBackground(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	// Left by a run that stopped before its trash was empty.
	if err := os.MkdirAll(filepath.Join(dataDir, trashDirName), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dataDir, trashDirName, "left-over"), 3*trashStep+5)

	tr, err := openTrash(dataDir, newTestLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.close()
	big := filepath.Join(dataDir, "segment.wal")
	writeFile(t, big, 2*trashStep+1)
	if err := tr.discard(big); err != nil {
		t.Fatal(err)
	}
	// Gone from where it was at once, whatever the deleter is doing.
	if _, err := os.Stat(big); !os.IsNotExist(err) {
		t.Fatalf("after discard, stat %s: %v", big, err)
	}
	if err := tr.discard(filepath.Join(dataDir, "no-such-file")); !os.IsNotExist(err) {
		t.Errorf("discard of a missing file: %v, want not exist", err)
	}
	testkit.Eventually(t, 10*time.Second, trashEmpty(t, tr))
}

func TestTrashClosedMidwayFinishesAtNextOpen(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	tr, err := openTrash(dataDir, newTestLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "c"} {
		path := filepath.Join(dataDir, name)
		writeFile(t, path, 4*trashStep)
		if err := tr.discard(path); err != nil {
			t.Fatal(err)
		}
	}
	tr.close() // each file needs three pauses: some are still there
	if len(dirEntries(t, tr.dir)) == 0 {
		t.Fatal("the trash was empty at close: nothing left to test")
	}
	tr, err = openTrash(dataDir, newTestLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.close()
	testkit.Eventually(t, 10*time.Second, trashEmpty(t, tr))
}

// TestWALCompactionMovesSegmentsToTrash: the segments a head truncation frees leave the
// WAL's directory into the trash, and the log left behind reads and reopens. The trash's
// deleter is stopped so that the segments can be seen there.
func TestWALCompactionMovesSegmentsToTrash(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	tr, err := openTrash(dataDir, newTestLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	tr.close()
	dir := filepath.Join(dataDir, walDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	open := func() (*wal.WAL, *metadb.BoltMetaDB) {
		meta := &metadb.BoltMetaDB{}
		w, err := wal.Open(dir, wal.WithMetaStore(meta), wal.WithSegmentSize(64<<10),
			wal.WithSegmentFiler(&trashingFiler{Filer: segment.NewFiler(dir, fs.New()), dir: dir, trash: tr}))
		if err != nil {
			t.Fatal(err)
		}
		return w, meta
	}
	segments := func() int {
		n := 0
		for _, name := range dirEntries(t, dir) {
			if strings.HasSuffix(name, ".wal") {
				n++
			}
		}
		return n
	}

	w, meta := open()
	payload := bytes.Repeat([]byte{'p'}, 4<<10)
	for i := uint64(1); i <= 200; i++ { // 800 KiB: a dozen 64 KiB segments
		if err := w.StoreLog(&raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: payload}); err != nil {
			t.Fatal(err)
		}
	}
	before := segments()
	if before < 5 {
		t.Fatalf("%d segments: the test needs several", before)
	}
	if err := w.DeleteRange(1, 180); err != nil {
		t.Fatal(err)
	}
	after := segments()
	if after >= before {
		t.Fatalf("%d segments after compacting, %d before", after, before)
	}
	if trashed := dirEntries(t, tr.dir); len(trashed) != before-after || !strings.HasSuffix(trashed[0], ".wal") {
		t.Fatalf("the trash holds %v, want the %d segments compacted away", trashed, before-after)
	}
	var l raft.Log
	if err := w.GetLog(190, &l); err != nil || !bytes.Equal(l.Data, payload) {
		t.Fatalf("entry 190 after compaction: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	meta.Close()

	w, meta = open()
	defer meta.Close()
	defer w.Close()
	if first, last := indexRange(t, w); first != 181 || last != 200 {
		t.Fatalf("reopened log holds %d..%d, want 181..200", first, last)
	}
	tr, err = openTrash(dataDir, newTestLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.close()
	testkit.Eventually(t, 10*time.Second, trashEmpty(t, tr))
}
