package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
	"go.etcd.io/bbolt"
)

// compactedDataDir leaves in dir the data directory of a stopped single node whose log
// was compacted: a snapshot after k0-k29, one after k30-k59, then k60-k69 in the log
// only, its entries after the snapshot one per write.
func compactedDataDir(t *testing.T, dir string) {
	t.Helper()
	cfg := singleNodeConfig(t, dir)
	cfg.NodeID = "n1"
	cfg.TuneRaft = func(rc *raft.Config) { rc.TrailingLogs = 5; rc.SnapshotThreshold = 1 << 30 }
	n := startLeader(t, cfg, newKV())
	for i := range 70 {
		apply(t, n, fmt.Sprintf("k%d", i), "v")
		if i == 29 || i == 59 {
			if err := n.raft.Snapshot().Error(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}
}

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

// TestStartOnDamagedDataDir damages the data directory of a stopped node in each way a
// disk or an operator can, and starts the node on it. Where raft, raft-wal or bbolt
// would panic, or quietly start over, the start is refused with an error that names the
// file (wrapping ErrDamagedLog when repair-log can help); where nothing acknowledged is
// lost, or all that can be done is to drop it, the node starts and logs what it dropped.
func TestStartOnDamagedDataDir(t *testing.T) {
	base := t.TempDir()
	compactedDataDir(t, base)
	junk := bytes.Repeat([]byte{0x5a, 0xa5, 0xff, 0x13}, 4096)

	tests := []struct {
		name    string
		damage  func(t *testing.T, f dataDirFiles)
		wantErr error  // nil: the node starts
		want    string // in the error, or else in the node's log
		lostAt  int    // the started node has k0 up to this one, not including it (0: all)
	}{
		{name: "intact", damage: func(*testing.T, dataDirFiles) {}},
		{
			name:    "snapshots removed",
			damage:  func(t *testing.T, f dataDirFiles) { os.RemoveAll(filepath.Join(f.dir, snapshotsDirName)) },
			wantErr: ErrDamagedLog, want: "there is no readable snapshot",
		},
		{
			name: "newest snapshot's metadata undecodable",
			damage: func(t *testing.T, f dataDirFiles) {
				os.WriteFile(filepath.Join(f.snapshots[1], metaFileName), []byte("garbage"), 0o600)
			},
			wantErr: ErrDamagedLog, want: metaFileName + ": undecodable",
		},
		{
			name: "newest snapshot's state flipped",
			damage: func(t *testing.T, f dataDirFiles) {
				overwrite(t, filepath.Join(f.snapshots[1], stateFileName), 3, []byte{0xff})
			},
			wantErr: ErrDamagedLog, want: stateFileName + ": its CRC does not match its metadata",
		},
		{
			// Only the snapshot the node starts from is read through.
			name: "older snapshot's state flipped",
			damage: func(t *testing.T, f dataDirFiles) {
				overwrite(t, filepath.Join(f.snapshots[0], stateFileName), 3, []byte{0xff})
			},
		},
		{
			name:    "raft.db pages overwritten",
			damage:  func(t *testing.T, f dataDirFiles) { overwrite(t, filepath.Join(f.dir, "raft.db"), 2*4096, junk) },
			wantErr: ErrDamagedData, want: "raft.db cannot be read",
		},
		{
			name:    "raft.db emptied",
			damage:  func(t *testing.T, f dataDirFiles) { os.WriteFile(filepath.Join(f.dir, "raft.db"), nil, 0o600) },
			wantErr: ErrDamagedData, want: "raft.db is missing or empty",
		},
		{
			name:    "wal-meta.db removed",
			damage:  func(t *testing.T, f dataDirFiles) { os.Remove(filepath.Join(f.dir, walDirName, metadb.FileName)) },
			wantErr: ErrDamagedLog, want: metadb.FileName + " is missing",
		},
		{
			name: "wal-meta.db pages overwritten",
			damage: func(t *testing.T, f dataDirFiles) {
				overwrite(t, filepath.Join(f.dir, walDirName, metadb.FileName), 2*4096, junk)
			},
			wantErr: ErrDamagedLog, want: metadb.FileName + " cannot be read",
		},
		{
			name:    "segment cut short",
			damage:  func(t *testing.T, f dataDirFiles) { os.Truncate(f.segment, f.entryOffset(f.lastEntry()-3)) },
			wantErr: ErrDamagedLog, want: "was cut short",
		},
		{
			name: "an entry after the snapshot unreadable",
			damage: func(t *testing.T, f dataDirFiles) {
				overwrite(t, f.segment, f.entryOffset(f.lastEntry()-3)+8, junk[:12])
			},
			wantErr: ErrDamagedLog, want: "cannot be read: ",
		},
		{
			name: "node-id garbage",
			damage: func(t *testing.T, f dataDirFiles) {
				os.WriteFile(filepath.Join(f.dir, nodeIDFile), []byte("a\x01b"), 0o600)
			},
			wantErr: ErrDamagedData, want: nodeIDFile + " is damaged",
		},
		{
			name: "a byte of the last write flipped",
			damage: func(t *testing.T, f dataDirFiles) {
				overwrite(t, f.segment, f.entryOffset(f.lastEntry())+20, []byte{0x55})
			},
			want: "is dropped: entry", lostAt: 69,
		},
		{
			// As a node that stopped after installing a snapshot and before raft emptied
			// its log: raft could never append to it again.
			name: "log ends before the newest snapshot",
			damage: func(t *testing.T, f dataDirFiles) {
				meta, err := readSnapshotMeta(filepath.Join(f.snapshots[1], metaFileName))
				if err != nil {
					t.Fatal(err)
				}
				w, err := openWAL(filepath.Join(f.dir, walDirName), nil, newHCLogAdapter(newTestLogger(t), "wal"), 0)
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
				if err := w.DeleteRange(meta.Index-1, uint64(f.lastEntry())); err != nil {
					t.Fatal(err)
				}
			},
			want: "the raft log ends before the newest snapshot", lostAt: 60,
		},
		{
			name:   "the last segment removed",
			damage: func(t *testing.T, f dataDirFiles) { os.Remove(f.segment) },
			want:   "the raft log's last segment is missing or empty", lostAt: 60,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, base, dir)
			tt.damage(t, findFiles(t, dir))
			log := newTestLog(t)
			cfg := singleNodeConfig(t, dir)
			cfg.Logger = log.logger()
			fsm := newKV()
			n, err := New(context.Background(), cfg, fsm)
			if tt.wantErr != nil {
				if err == nil {
					n.Shutdown()
					t.Fatalf("the node started; want %v", tt.wantErr)
				}
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), dir) {
					t.Fatalf("error %q: want %v, naming a file in %s and saying %q", err, tt.wantErr, dir, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("the node did not start: %v", err)
			}
			defer n.Shutdown()
			if err := n.WaitLeader(ctxTimeout(t, 10*time.Second)); err != nil {
				t.Fatal(err)
			}
			if !log.contains(tt.want) {
				t.Errorf("the node's log does not say %q", tt.want)
			}
			// Applied once committed, and entries are applied in order.
			apply(t, n, "after-start", "v")
			for i := range 70 {
				key := fmt.Sprintf("k%d", i)
				if _, ok := fsm.get(key); ok != (tt.lostAt == 0 || i < tt.lostAt) {
					t.Errorf("after the start, %s present: %v", key, ok)
				}
			}
		})
	}
}

// TestRepairLogWithoutItsMetadata: a log whose metadata is gone is refused at start, and
// repair-log rebuilds it from the segment files alone; the node then starts with every
// write it had acknowledged.
func TestRepairLogWithoutItsMetadata(t *testing.T) {
	dir := t.TempDir()
	compactedDataDir(t, dir)
	if err := os.Remove(filepath.Join(dir, walDirName, metadb.FileName)); err != nil {
		t.Fatal(err)
	}
	cfg := singleNodeConfig(t, dir)
	if _, err := New(context.Background(), cfg, newKV()); !errors.Is(err, ErrDamagedLog) {
		t.Fatalf("start without the log's metadata: %v, want ErrDamagedLog", err)
	}
	report, err := RepairLog(dir, newTestLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if report.KeptLast == 0 || report.KeptFirst > report.SnapshotIndex+1 || !strings.Contains(report.Problem, metadb.FileName) {
		t.Fatalf("report %+v: want the entries after the snapshot kept, and the metadata named", report)
	}
	fsm := newKV()
	n := startLeader(t, cfg, fsm)
	defer n.Shutdown()
	apply(t, n, "after-repair", "v")
	for i := range 70 {
		if _, ok := fsm.get(fmt.Sprintf("k%d", i)); !ok {
			t.Fatalf("k%d is lost", i)
		}
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

	if _, err := openWAL(dir, nil, newHCLogAdapter(newTestLogger(t), "wal"), smallSegment); !errors.Is(err, ErrDamagedLog) || !strings.Contains(err.Error(), "was sealed") {
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
