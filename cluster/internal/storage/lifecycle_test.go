package storage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coal-mine/coal-mine/cluster/internal/hclogslog"
	"github.com/coal-mine/coal-mine/deploy/testkit"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/hashicorp/raft-wal/metadb"
)

// TestRepairLogRefusesARunningNode: the repair never touches the log of a running node.
func TestRepairLogRefusesARunningNode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := mustStartNode(t, dir, testkit.NewKV(), nodeOptions{})
	defer n.shutdown()
	if _, err := RepairLog(dir, newTestLogger(t)); err == nil || !strings.Contains(err.Error(), "stop the coal-mine") {
		t.Fatalf("repair of a running node's log: %v", err)
	}
}

// TestNodeOnDamagedLogRefusesThenRejoinsAfterRepair: a node whose log v0.4.0 damaged
// refuses to start, naming the problem; after RepairLog it starts as itself with every
// write it had acknowledged.
func TestNodeOnDamagedLogRefusesThenRejoinsAfterRepair(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := mustStartNode(t, dir, testkit.NewKV(), nodeOptions{})
	id := n.id
	for i := range 20 {
		n.apply(t, fmt.Sprintf("k%d", i), fmt.Sprint(i))
	}
	term := n.raft.CurrentTerm()
	if err := n.shutdown(); err != nil {
		t.Fatal(err)
	}
	// A deposed leader's uncommitted tail, then its truncation.
	w := openSmallWAL(t, filepath.Join(dir, walDirName))
	_, last := indexRange(t, w)
	storeEntries(t, w, last+1, last+5, term)
	if err := w.DeleteRange(last+1, last+5); err != nil {
		t.Fatal(err)
	}
	w.Close()
	damageLikeRaftWAL040(t, filepath.Join(dir, walDirName))

	_, err := startNode(t, dir, testkit.NewKV(), nodeOptions{})
	if !errors.Is(err, ErrDamagedLog) {
		t.Fatalf("start on a damaged log: %v, want ErrDamagedLog", err)
	}
	report, err := RepairLog(dir, newTestLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if report.KeptLast != last || report.Problem != "" {
		t.Errorf("report %+v, want every entry up to %d kept", report, last)
	}
	fsm := testkit.NewKV()
	n = mustStartNode(t, dir, fsm, nodeOptions{})
	defer n.shutdown()
	if n.id != id {
		t.Errorf("the repaired node is %s, was %s", n.id, id)
	}
	n.apply(t, "after-repair", "x")
	for i := range 20 {
		if got, _ := fsm.Get(fmt.Sprintf("k%d", i)); got != fmt.Sprint(i) {
			t.Fatalf("after the repair k%d=%q, want %d", i, got, i)
		}
	}
}

// TestUpgradeFromBoltLog starts a node on a data dir as the versions before the WAL left
// it (the Raft log in raft.db, no raft-wal directory) and requires every write back.
func TestUpgradeFromBoltLog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := mustStartNode(t, dir, testkit.NewKV(), nodeOptions{})
	for i := range 50 {
		n.apply(t, fmt.Sprintf("k%d", i), fmt.Sprint(i))
	}
	if err := n.shutdown(); err != nil {
		t.Fatal(err)
	}

	// Put the log back where the old versions kept it.
	bolt, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := openWAL(filepath.Join(dir, walDirName), nil, hclogslog.New(newTestLogger(t), "wal"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateBoltLogs(w, bolt); err != nil {
		t.Fatal(err)
	}
	w.Close()
	bolt.Close()
	if err := os.RemoveAll(filepath.Join(dir, walDirName)); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "snapshots")); len(entries) != 0 {
		t.Fatalf("a snapshot was taken (%d files): the test would not replay the moved log", len(entries))
	}

	fsm := testkit.NewKV()
	n = mustStartNode(t, dir, fsm, nodeOptions{})
	defer n.shutdown()
	n.apply(t, "after-upgrade", "x")
	for i := range 50 {
		if got, _ := fsm.Get(fmt.Sprintf("k%d", i)); got != fmt.Sprint(i) {
			t.Fatalf("after the upgrade k%d=%q, want %d", i, got, i)
		}
	}
}

// compactedDataDir leaves in dir the data directory of a stopped single node whose log
// was compacted: a snapshot after k0-k29, one after k30-k59, then k60-k69 in the log
// only, its entries after the snapshot one per write.
func compactedDataDir(t *testing.T, dir string) {
	t.Helper()
	tune := func(rc *raft.Config) { rc.TrailingLogs = 5; rc.SnapshotThreshold = 1 << 30 }
	n := mustStartNode(t, dir, testkit.NewKV(), nodeOptions{tune: tune})
	for i := range 70 {
		n.apply(t, fmt.Sprintf("k%d", i), "v")
		if i == 29 || i == 59 {
			if err := n.raft.Snapshot().Error(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := n.shutdown(); err != nil {
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
				os.WriteFile(filepath.Join(f.dir, NodeIDFile), []byte("a\x01b"), 0o600)
			},
			wantErr: ErrDamagedData, want: NodeIDFile + " is damaged",
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
				w, err := openWAL(filepath.Join(f.dir, walDirName), nil, hclogslog.New(newTestLogger(t), "wal"), 0)
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
			log := &testkit.Buffer{}
			fsm := testkit.NewKV()
			n, err := startNode(t, dir, fsm, nodeOptions{log: log})
			if tt.wantErr != nil {
				if err == nil {
					n.shutdown()
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
			defer n.shutdown()
			if !log.Contains(tt.want) {
				t.Errorf("the node's log does not say %q", tt.want)
			}
			// Applied once committed, and entries are applied in order.
			n.apply(t, "after-start", "v")
			for i := range 70 {
				key := fmt.Sprintf("k%d", i)
				if _, ok := fsm.Get(key); ok != (tt.lostAt == 0 || i < tt.lostAt) {
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
	if _, err := startNode(t, dir, testkit.NewKV(), nodeOptions{}); !errors.Is(err, ErrDamagedLog) {
		t.Fatalf("start without the log's metadata: %v, want ErrDamagedLog", err)
	}
	report, err := RepairLog(dir, newTestLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if report.KeptLast == 0 || report.KeptFirst > report.SnapshotIndex+1 || !strings.Contains(report.Problem, metadb.FileName) {
		t.Fatalf("report %+v: want the entries after the snapshot kept, and the metadata named", report)
	}
	fsm := testkit.NewKV()
	n := mustStartNode(t, dir, fsm, nodeOptions{})
	defer n.shutdown()
	n.apply(t, "after-repair", "v")
	for i := range 70 {
		if _, ok := fsm.Get(fmt.Sprintf("k%d", i)); !ok {
			t.Fatalf("k%d is lost", i)
		}
	}
}
