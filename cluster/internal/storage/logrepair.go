package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/coal-mine/coal-mine/cluster/internal/hclogslog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
	"go.etcd.io/bbolt"
)

// ErrDamagedLog means the Raft log in a data directory cannot be read back as it was
// written. The node refuses to start on it; RepairLog moves it aside and rebuilds it
// from what can still be read, and the node catches up from the leader as itself.
var ErrDamagedLog = errors.New("the raft log is damaged")

// checkedMeta is the WAL's metadata store, refusing at load a state that raft-wal would
// open but not read back. raft-wal v0.4.0 (hashicorp/raft-wal#31) sealed a segment whose
// tail was truncated in its metadata only, never writing the segment's index block: the
// log opened, and the first read of that segment failed, which raft answers with a panic
// in NewRaft on every later start. It also checks the segment files the state lists
// (checkSegmentFiles), and keeps the state in loaded for the checks after the open.
type checkedMeta struct {
	*metadb.BoltMetaDB
	logger *hclogslog.Logger
	loaded *types.PersistentState
	tail   **tailScan
}

func (m checkedMeta) Load(dir string) (types.PersistentState, error) {
	state, err := m.BoltMetaDB.Load(dir)
	if err != nil {
		return state, err
	}
	for _, seg := range state.Segments {
		if !seg.SealTime.IsZero() && seg.IndexStart == 0 {
			return state, fmt.Errorf("%w: segment %s is sealed but has no index block (a log tail truncated by a coal-mine built with raft-wal v0.4.0, hashicorp/raft-wal#31)",
				ErrDamagedLog, filepath.Join(dir, segment.FileName(seg)))
		}
	}
	tail, err := checkSegmentFiles(dir, state, m.logger)
	if err != nil {
		return state, err
	}
	*m.loaded, *m.tail = state, tail
	return state, nil
}

// Names of the directories RepairLog works with, beside walDirName.
const (
	repairDirName      = walDirName + ".repair"   // the rebuilt log, until it replaces the old one
	damagedDirPrefix   = walDirName + ".damaged-" // + the time of the repair: the old log, kept
	repairSnapshotsAll = 1 << 30                  // list every snapshot; RepairLog deletes none
)

// LogRepair says what RepairLog did.
type LogRepair struct {
	// MovedTo is where the damaged log now is, kept for inspection; delete it once the
	// node runs again.
	MovedTo string
	// HeldFirst and HeldLast are the entries the damaged log's metadata listed.
	HeldFirst, HeldLast uint64
	// KeptFirst and KeptLast are the entries copied into the new log (0, 0 for none).
	KeptFirst, KeptLast uint64
	// SnapshotIndex is the last entry of the node's newest snapshot (0 without one).
	SnapshotIndex uint64
	// Problem is why entries after KeptLast could not be copied ("" when none were lost
	// but those truncated on purpose).
	Problem string
}

// RepairLog rebuilds the Raft log of the stopped node whose data directory is dataDir.
// It copies, in order, every entry of the old log that can still be read (raft-wal's
// segments hold the entries even where an index is missing), up to the first one that
// cannot; keeps the result only if it joins the node's newest snapshot (otherwise the
// new log is empty and the snapshot is the node's state); and moves the old log to
// raft-wal.damaged-<time>. The node keeps its identity, term and vote (raft.db) and its
// snapshots, so started again it rejoins as itself and the leader sends it whatever the
// new log lacks: entries, or a snapshot. Run on a log that is not damaged, it rebuilds an
// identical one.
//
// It refuses to run while a node uses dataDir. A repair stopped half way is finished by
// running it again.
func RepairLog(dataDir string, logger *slog.Logger) (*LogRepair, error) {
	// bbolt panics on some damaged pages; a damaged raft.db is not the log's to repair.
	switch err := checkBoltFile(filepath.Join(dataDir, "raft.db")); {
	case errors.Is(err, bbolt.ErrTimeout):
		return nil, fmt.Errorf("open raft.db: %w (stop the coal-mine that uses %s first)", err, dataDir)
	case err != nil:
		return nil, fmt.Errorf("%w: %s cannot be read (%v), and repair-log rebuilds the raft log only: %s",
			ErrDamagedData, filepath.Join(dataDir, "raft.db"), err, raftDBAdvice)
	}
	// raft.db stays locked for the whole repair: no node can start on dataDir meanwhile.
	store, err := raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(dataDir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: boltOpenTimeout},
	})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("open raft.db: %w (stop the coal-mine that uses %s first)", err, dataDir)
		}
		return nil, fmt.Errorf("open raft.db: %w", err)
	}
	defer store.Close()

	walDir := filepath.Join(dataDir, walDirName)
	repairDir := filepath.Join(dataDir, repairDirName)
	if _, err := os.Stat(walDir); errors.Is(err, os.ErrNotExist) {
		// A repair that stopped between moving the old log away and putting the new one
		// in place: the new one is complete (it is renamed only once closed).
		if _, err := os.Stat(repairDir); err == nil {
			logger.Info("finishing an earlier repair", "log", repairDir)
			return &LogRepair{}, replaceDir(repairDir, walDir, dataDir)
		}
		return nil, fmt.Errorf("%s: no raft log to repair", walDir)
	}
	if err := os.RemoveAll(repairDir); err != nil {
		return nil, fmt.Errorf("remove an unfinished repair: %w", err)
	}

	snapshots, err := raft.NewFileSnapshotStoreWithLogger(dataDir, repairSnapshotsAll, hclogslog.New(logger, "snapshots"))
	if err != nil {
		return nil, fmt.Errorf("open snapshots: %w", err)
	}
	report := &LogRepair{}
	// The snapshot the node will start from, as the node's start-up checks find it: a
	// log kept because it joins a damaged snapshot would be refused again.
	newest, _, _, err := readableSnapshots(snapshots, filepath.Join(dataDir, snapshotsDirName))
	if err != nil {
		return nil, err
	}
	if newest != nil {
		report.SnapshotIndex = newest.Index
	}

	salvaged, err := salvageLog(walDir, report)
	if err != nil {
		return nil, err
	}
	if n := len(salvaged); n > 0 {
		first, last := salvaged[0].Index, salvaged[n-1].Index
		// raft reads the entries after its snapshot at start and appends after the last
		// one: a log that ends before the snapshot, or starts after it, would stop it.
		if last < report.SnapshotIndex || first > report.SnapshotIndex+1 {
			logger.Warn("the readable entries do not join the newest snapshot: the new log is empty",
				"readable_first", first, "readable_last", last, "snapshot_index", report.SnapshotIndex)
			salvaged = nil
		} else {
			report.KeptFirst, report.KeptLast = first, last
		}
	}

	rebuilt, err := openWAL(repairDir, nil, hclogslog.New(logger, "wal"), 0)
	if err != nil {
		return nil, err
	}
	for start := 0; start < len(salvaged); start += migrateBatch {
		if err := rebuilt.StoreLogs(salvaged[start:min(start+migrateBatch, len(salvaged))]); err != nil {
			rebuilt.Close()
			return nil, fmt.Errorf("write the rebuilt log %s: %w", repairDir, err)
		}
	}
	if err := rebuilt.Close(); err != nil {
		return nil, fmt.Errorf("close the rebuilt log %s: %w", repairDir, err)
	}

	report.MovedTo = filepath.Join(dataDir, damagedDirPrefix+time.Now().UTC().Format("20060102T150405Z"))
	if err := os.Rename(walDir, report.MovedTo); err != nil {
		return nil, fmt.Errorf("move the damaged log aside: %w", err)
	}
	if err := replaceDir(repairDir, walDir, dataDir); err != nil {
		return nil, err
	}
	return report, nil
}

// salvageLog reads, straight from the segment files of the log in dir, the entries its
// metadata lists, in order, up to the first that cannot be read or decoded. It records
// the range listed and the problem met in report.
func salvageLog(dir string, report *LogRepair) ([]*raft.Log, error) {
	metaPath := filepath.Join(dir, metadb.FileName)
	if err := checkWALMeta(dir); err != nil {
		report.Problem = fmt.Sprintf("%s: %v; the entries were read from the segment files alone", metaPath, err)
		return salvageWithoutMeta(dir, report)
	}
	meta := &metadb.BoltMetaDB{}
	state, err := meta.Load(dir)
	meta.Close()
	if err != nil {
		return nil, fmt.Errorf("read the log's metadata %s: %w", metaPath, err)
	}
	if len(state.Segments) == 0 {
		return nil, nil
	}
	report.HeldFirst = state.Segments[0].MinIndex
	filer := segment.NewFiler(dir, readOnlyVFS{})
	codec := &wal.BinaryCodec{}
	var logs []*raft.Log
	next := max(report.HeldFirst, 1)
	for _, seg := range state.Segments {
		// Entries truncated off a sealed segment stay in its file: read to MaxIndex. An
		// unsealed tail ends where raft-wal's own recovery says its last whole batch does.
		before := seg.MaxIndex + 1
		if seg.SealTime.IsZero() {
			tail, err := filer.RecoverTail(seg)
			if err != nil {
				report.Problem = fmt.Sprintf("%s: %v", filepath.Join(dir, segment.FileName(seg)), err)
				break
			}
			before = tail.LastIndex() + 1
			tail.Close()
			if before == 1 { // an empty tail
				break
			}
		}
		err := filer.DumpSegment(seg.BaseIndex, seg.ID, next-1, before, func(_ types.SegmentInfo, e types.LogEntry) (bool, error) {
			l, err := decodeEntry(codec, e.Data)
			if err != nil {
				return false, fmt.Errorf("entry %d: %w", e.Index, err)
			}
			if l.Index != e.Index {
				return false, fmt.Errorf("entry %d holds index %d", e.Index, l.Index)
			}
			logs = append(logs, l)
			next = e.Index + 1
			return true, nil
		})
		if err != nil {
			report.Problem = fmt.Sprintf("%s: %v", filepath.Join(dir, segment.FileName(seg)), err)
			break
		}
		if before != 0 && next != before {
			report.Problem = fmt.Sprintf("%s: entries %d-%d are missing", filepath.Join(dir, segment.FileName(seg)), next, before-1)
			break
		}
	}
	report.HeldLast = next - 1
	if last := state.Segments[len(state.Segments)-1]; !last.SealTime.IsZero() {
		report.HeldLast = max(report.HeldLast, last.MaxIndex)
	}
	return logs, nil
}

// salvageWithoutMeta reads the log in dir from its segment files alone, for a log whose
// metadata is missing or damaged. Each file names its first entry and its id; raft-wal
// starts a new segment where it truncates the log, so a segment made later (a higher id)
// replaces the entries from its first one on; and the newest one is the tail, whose last
// batch raft-wal's own recovery checks. Where entries are missing between two segments
// (old ones deleted after a compaction, say), only the newer run is kept.
func salvageWithoutMeta(dir string, report *LogRepair) ([]*raft.Log, error) {
	filer := segment.NewFiler(dir, readOnlyVFS{})
	files, err := filer.List() // id -> first entry
	if err != nil {
		return nil, fmt.Errorf("list the log's segments in %s: %w", dir, err)
	}
	ids := slices.Sorted(maps.Keys(files))
	codec := &wal.BinaryCodec{}
	var logs []*raft.Log
	for i, id := range ids {
		base := files[id]
		path := filepath.Join(dir, segment.FileName(types.SegmentInfo{BaseIndex: base, ID: id}))
		logs = slices.DeleteFunc(logs, func(l *raft.Log) bool { return l.Index >= base })
		if n := len(logs); n > 0 && logs[n-1].Index+1 != base {
			logs = nil
		}
		before := uint64(0)
		if i == len(ids)-1 {
			tail, err := filer.RecoverTail(types.SegmentInfo{BaseIndex: base, MinIndex: base, ID: id, Codec: wal.CodecBinaryV1, SizeLimit: uint32(wal.DefaultSegmentSize)})
			if err != nil {
				report.Problem += fmt.Sprintf("; %s: %v", path, err)
				break
			}
			before = tail.LastIndex() + 1
			tail.Close()
			if before == 1 { // an empty tail
				break
			}
		}
		err := filer.DumpSegment(base, id, base-1, before, func(_ types.SegmentInfo, e types.LogEntry) (bool, error) {
			l, err := decodeEntry(codec, e.Data)
			if err != nil {
				return false, fmt.Errorf("entry %d: %w", e.Index, err)
			}
			if l.Index != e.Index {
				return false, fmt.Errorf("entry %d holds index %d", e.Index, l.Index)
			}
			logs = append(logs, l)
			return true, nil
		})
		if err != nil {
			report.Problem += fmt.Sprintf("; %s: %v", path, err)
			break
		}
	}
	if n := len(logs); n > 0 {
		report.HeldFirst, report.HeldLast = logs[0].Index, logs[n-1].Index
	}
	return logs, nil
}

// decodeEntry decodes one entry; raft-wal's decoder panics on some damaged bytes.
func decodeEntry(codec *wal.BinaryCodec, data []byte) (l *raft.Log, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("undecodable entry: %v", r)
		}
	}()
	l = new(raft.Log)
	if err := codec.Decode(data, l); err != nil {
		return nil, err
	}
	return l, nil
}

// replaceDir renames from to to and syncs their parent, dir.
func replaceDir(from, to, dir string) error {
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("put the rebuilt log in place: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// readOnlyVFS opens segments for reading only: salvageLog must not change the damaged log.
type readOnlyVFS struct{}

func (readOnlyVFS) ListDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
}

func (readOnlyVFS) OpenReader(dir, name string) (types.ReadableFile, error) {
	return os.Open(filepath.Join(dir, name))
}

var errReadOnly = errors.New("the damaged log is opened read-only")

func (readOnlyVFS) Create(string, string, uint64) (types.WritableFile, error) {
	return nil, errReadOnly
}
func (readOnlyVFS) Delete(string, string) error { return errReadOnly }

// OpenWriter opens a segment whose writes fail: raft-wal's tail recovery only reads.
func (readOnlyVFS) OpenWriter(dir, name string) (types.WritableFile, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	return readOnlyFile{f}, nil
}

type readOnlyFile struct{ *os.File }

func (readOnlyFile) WriteAt([]byte, int64) (int, error) { return 0, errReadOnly }
func (readOnlyFile) Sync() error                        { return errReadOnly }
