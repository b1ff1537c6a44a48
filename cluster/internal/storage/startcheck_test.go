package storage

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/cluster/internal/hclogslog"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
	"go.etcd.io/bbolt"
)

// copyDir copies the files under src to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// dataDirFiles finds the files of a data directory made by compactedDataDir.
type dataDirFiles struct {
	dir       string
	segment   string    // the log's one segment
	snapshots [2]string // snapshot directories, older first
	scan      *tailScan // the segment's frames
}

func findFiles(t *testing.T, dir string) dataDirFiles {
	t.Helper()
	f := dataDirFiles{dir: dir}
	segments, _ := filepath.Glob(filepath.Join(dir, walDirName, "*.wal"))
	snaps, _ := filepath.Glob(filepath.Join(dir, snapshotsDirName, "*"))
	if len(segments) != 1 || len(snaps) != 2 {
		t.Fatalf("%d segments and %d snapshots, want 1 and 2", len(segments), len(snaps))
	}
	f.segment, f.snapshots = segments[0], [2]string{snaps[0], snaps[1]}
	var err error
	if f.scan, err = scanTail(f.segment); err != nil {
		t.Fatal(err)
	}
	return f
}

// entryOffset is where entry index starts in the segment (its base index is 1).
func (f dataDirFiles) entryOffset(index int) int64 { return f.scan.entries[index-1].offset }

func (f dataDirFiles) lastEntry() int { return len(f.scan.entries) }

func overwrite(t *testing.T, path string, offset int64, data []byte) {
	t.Helper()
	file, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if _, err := file.WriteAt(data, offset); err != nil {
		t.Fatal(err)
	}
}

// TestSealedTailNotInMetadata: a segment sealed on disk whose sealing the metadata never
// recorded (a full disk or a crash in between) made raft-wal refuse every append
// ("segment is sealed"), at every start. It is refused when the log is opened, and
// repair-log rebuilds the log with every entry.
func TestSealedTailNotInMetadata(t *testing.T) {
	dataDir := t.TempDir()
	dir := filepath.Join(dataDir, walDirName)
	w := openSmallWAL(t, dir)
	storeEntries(t, w, 1, 400, 1) // several segments of 64 KiB
	w.Close()

	// Forget the tail and the sealing of the segment before it.
	db, err := bbolt.Open(filepath.Join(dir, metadb.FileName), 0o644, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var lastKept uint64
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(metadb.MetaBucket))
		var state types.PersistentState
		if err := json.Unmarshal(b.Get([]byte(metadb.MetaKey)), &state); err != nil {
			return err
		}
		n := len(state.Segments)
		tail := state.Segments[n-1]
		if err := os.Remove(filepath.Join(dir, segment.FileName(tail))); err != nil {
			return err
		}
		state.Segments = state.Segments[:n-1]
		sealed := &state.Segments[n-2]
		lastKept = sealed.MaxIndex
		sealed.SealTime, sealed.IndexStart, sealed.MaxIndex = time.Time{}, 0, 0
		raw, err := json.Marshal(state)
		if err != nil {
			return err
		}
		return b.Put([]byte(metadb.MetaKey), raw)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	if _, err := openWAL(dir, nil, hclogslog.New(newTestLogger(t), "wal"), smallSegment); !errors.Is(err, ErrDamagedLog) || !strings.Contains(err.Error(), "was sealed") {
		t.Fatalf("opening the log: %v, want ErrDamagedLog saying the segment was sealed", err)
	}
	if _, err := RepairLog(dataDir, newTestLogger(t)); err != nil {
		t.Fatal(err)
	}
	w = openSmallWAL(t, dir)
	defer w.Close()
	checkEntries(t, w, 1, lastKept)
	storeEntries(t, w, lastKept+1, lastKept+20, 2)
}
