package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coal-mine/coal-mine/cluster/internal/hclogslog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
)

// The Raft log lives in a write-ahead log (raft-wal) in <DataDir>/raft-wal; raft.db
// (BoltDB) keeps the term and vote. A bbolt commit costs two fdatasyncs (pages, then
// meta page) where an append to a preallocated WAL segment costs one, and the log write
// sits on the commit path twice in series (leader, then follower): measured on this
// machine, a 2 KB StoreLogs takes 373 µs in bbolt and 178 µs in the WAL.
const walDirName = "raft-wal"

// migrateBatch is how many entries move from raft.db to the WAL per append.
const migrateBatch = 1024

// logStore is the WAL with the metadata database it opens, closed here as well when the
// WAL fails to open; and with its file system, which may be writing a spare segment.
type logStore struct {
	*wal.WAL
	meta   *metadb.BoltMetaDB
	fs     *segmentFS
	dir    string
	opened types.PersistentState // the segments the metadata listed at open
	tail   *tailScan             // the frames of the tail segment at open
	logger *hclogslog.Logger
	state  storageState // the outcome of the last append (diskfull.go)
}

// Close closes the WAL (and its metadata: closing that twice is harmless).
func (s *logStore) Close() error {
	err := s.WAL.Close()
	s.fs.close()
	return errors.Join(err, s.meta.Close())
}

// openLogStore opens the WAL in dataDir and moves into it any entries that an older
// version left in raft.db, so an upgrade loses no acknowledged write. Compacted
// segments go to trash.
func openLogStore(dataDir string, bolt *raftboltdb.BoltStore, trash *trash, logger *hclogslog.Logger, segmentSize int) (*logStore, error) {
	s, err := openWAL(filepath.Join(dataDir, walDirName), trash, logger, segmentSize)
	if err != nil {
		return nil, err
	}
	if err := migrateBoltLogs(bolt, s); err != nil {
		s.Close()
		return nil, fmt.Errorf("move raft log from raft.db to %s: %w", walDirName, err)
	}
	return s, nil
}

// openWAL opens the WAL in dir, its segments segmentSize bytes each (0: raft-wal's
// default, 64 MiB). With a trash, deleted segments go there; without one they are unlinked at
// once.
func openWAL(dir string, trash *trash, logger *hclogslog.Logger, segmentSize int) (*logStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if segmentSize <= 0 {
		segmentSize = wal.DefaultSegmentSize
	}
	// raft-wal and bbolt panic on some damaged bytes in the metadata, and raft-wal makes
	// a new, empty log when it is missing, deleting the segments: refused first.
	if err := checkWALMeta(dir); err != nil {
		return nil, err
	}
	s := &logStore{meta: &metadb.BoltMetaDB{}, fs: newSegmentFS(logger.Named("wal"), uint64(segmentSize)), dir: dir, logger: logger}
	var filer types.SegmentFiler = segment.NewFiler(dir, s.fs)
	if trash != nil {
		filer = &trashingFiler{Filer: segment.NewFiler(dir, s.fs), dir: dir, trash: trash}
	}
	// A spare found at start may have been a segment already: a crash between its
	// rename and the directory's sync brings back the old name, with whatever entries
	// reached the disk. Only zeros may follow a segment's last entry, so it goes.
	if err := s.fs.removeSpares(dir); err != nil {
		s.meta.Close()
		return nil, err
	}
	// A new log's first segment is made from a spare too (see segmentFS): written now,
	// about 0.15 s for 64 MB here, once in a node's life.
	if existing, _ := filepath.Glob(filepath.Join(dir, "*.wal")); len(existing) == 0 {
		if err := s.fs.writeSpare(dir); err != nil {
			logger.Warn("cannot prepare the first log segment: preallocating it instead", "error", err)
		}
	}
	var err error
	s.WAL, err = wal.Open(dir, wal.WithMetaStore(checkedMeta{BoltMetaDB: s.meta, logger: logger, loaded: &s.opened, tail: &s.tail}),
		wal.WithLogger(logger.Named("wal")), wal.WithSegmentFiler(filer), wal.WithSegmentSize(segmentSize))
	if err != nil {
		s.fs.close()
		s.meta.Close()
		if errors.Is(err, ErrDamagedLog) {
			return nil, err // names the file already
		}
		return nil, fmt.Errorf("%w: open raft log %s: %w", ErrDamagedLog, dir, err)
	}
	last, err := s.LastIndex()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("%w: raft log %s: last index: %w", ErrDamagedLog, dir, err)
	}
	// Before the first append overwrites what raft-wal's recovery dropped.
	reportDroppedTail(dir, s.opened, s.tail, last, logger)
	return s, nil
}

// trashingFiler is raft-wal's segment filer but for Delete, which moves the segment into
// the trash instead of unlinking it: raft-wal deletes the segments a compaction frees
// while it holds the lock every append needs (see trash).
type trashingFiler struct {
	*segment.Filer
	dir   string
	trash *trash
}

func (f *trashingFiler) Delete(baseIndex, id uint64) error {
	path := filepath.Join(f.dir, segment.FileName(types.SegmentInfo{BaseIndex: baseIndex, ID: id}))
	if err := f.trash.discard(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// migrateBoltLogs appends to dst the entries of src that dst lacks, then deletes them
// from src. It is safe to rerun after a crash at any point: entries are copied before
// they are deleted, and a rerun continues after the last entry dst holds.
func migrateBoltLogs(src raft.LogStore, dst raft.LogStore) error {
	first, err := src.FirstIndex()
	if err != nil {
		return err
	}
	last, err := src.LastIndex()
	if err != nil {
		return err
	}
	if last == 0 {
		return nil
	}
	have, err := dst.LastIndex()
	if err != nil {
		return err
	}
	next := first
	if have != 0 {
		dstFirst, err := dst.FirstIndex()
		if err != nil {
			return err
		}
		if dstFirst > first || have+1 < first {
			return fmt.Errorf("raft.db holds entries %d-%d and the WAL %d-%d: they do not join", first, last, dstFirst, have)
		}
		next = have + 1
	}
	for next <= last {
		end := min(last, next+migrateBatch-1)
		batch := make([]*raft.Log, 0, end-next+1)
		for i := next; i <= end; i++ {
			l := new(raft.Log)
			if err := src.GetLog(i, l); err != nil {
				return fmt.Errorf("read entry %d: %w", i, err)
			}
			batch = append(batch, l)
		}
		if err := dst.StoreLogs(batch); err != nil {
			return fmt.Errorf("append entries %d-%d: %w", next, end, err)
		}
		next = end + 1
	}
	if err := src.DeleteRange(first, last); err != nil && !errors.Is(err, raft.ErrLogNotFound) {
		return fmt.Errorf("delete moved entries: %w", err)
	}
	return nil
}
