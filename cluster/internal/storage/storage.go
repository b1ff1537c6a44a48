// Package storage is a node's Raft storage engine: the log (raft-wal, on segment files
// made ready ahead of need, behind a cache), the stable store (term and vote in
// raft-boltdb), the snapshot store, the trash that deletes compacted files slowly, and
// the checks that refuse a damaged data directory with one clear line, all behind Open.
// RepairLog rebuilds a damaged log for `coal-mine repair-log`.
package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/coal-mine/coal-mine/cluster/internal/hclogslog"
)

const (
	snapshotsRetained = 2
	logCacheEntries   = 512
	logCacheMaxEntry  = 64 << 10 // a full batch of triggers is about 15 KB; imports are read back
	boltOpenTimeout   = time.Second
)

// RestoreTempPattern names the files a restore upload is spooled to in the data
// directory; Open removes those a stopped node left.
const RestoreTempPattern = "restore-*.tmp"

// Options tune Open.
type Options struct {
	// Logger receives the store's own lines; the libraries' go through hclogslog.
	Logger *slog.Logger
	// SegmentSize is the size of a log segment file; 0 means raft-wal's default.
	SegmentSize int
}

// Store is an open data directory: what raft.NewRaft takes, and what the node asks
// about its disk.
type Store struct {
	stable    *raftboltdb.BoltStore // term and vote
	log       *logStore             // the Raft log
	logs      *logCache             // the log behind its cache, as raft reads it
	snapshots *snapshotStore
	trash     *trash // compacted log segments and old snapshots, deleted slowly
	hasState  bool
	dir       string
}

// Open opens the data directory dir, checking first everything raft would read: some
// damage makes raft or its stores panic, other damage makes them quietly start over.
// Damage comes back as an error wrapping ErrDamagedLog or ErrDamagedData that names the
// file and what to do.
func Open(dir string, opts Options) (*Store, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &Store{dir: dir}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()

	removeStaleRestores(dir, logger)
	if err := checkRaftDB(dir); err != nil {
		return nil, err
	}
	var err error
	s.stable, err = raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(dir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: boltOpenTimeout},
		// NoSync stays false: an acknowledged write has been fsynced.
	})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("open raft.db: %w (is another coal-mine using %s?)", err, dir)
		}
		return nil, fmt.Errorf("open raft.db: %w", err)
	}
	hclogger := hclogslog.New(logger, "raft")
	s.trash, err = openTrash(dir, logger)
	if err != nil {
		return nil, err
	}
	s.log, err = openLogStore(dir, s.stable, s.trash, hclogger, opts.SegmentSize)
	if err != nil {
		return nil, err
	}
	s.logs, err = newLogCache(s.log, logCacheEntries, logCacheMaxEntry)
	if err != nil {
		return nil, fmt.Errorf("raft log cache: %w", err)
	}
	s.snapshots, err = newSnapshotStore(dir, snapshotsRetained, s.trash, logger, hclogger)
	if err != nil {
		return nil, fmt.Errorf("open snapshot store: %w", err)
	}
	if err := checkStartState(dir, s.log, s.snapshots, logger); err != nil {
		return nil, err
	}
	s.hasState, err = raft.HasExistingState(s.logs, s.stable, s.snapshots)
	if err != nil {
		return nil, fmt.Errorf("inspect raft state: %w", err)
	}
	ok = true
	return s, nil
}

// Log is the Raft log as raft reads and writes it (through the cache).
func (s *Store) Log() raft.LogStore { return s.logs }

// Stable is where raft keeps its term and vote.
func (s *Store) Stable() raft.StableStore { return s.stable }

// Snapshots is the snapshot store.
func (s *Store) Snapshots() raft.SnapshotStore { return s.snapshots }

// HasState says whether the directory held Raft state when it was opened.
func (s *Store) HasState() bool { return s.hasState }

// Err says why the log cannot be written, nil when its last append succeeded. It wraps
// ErrDiskFull when the file system is full.
func (s *Store) Err() error {
	if s == nil || s.log == nil {
		return nil
	}
	return s.log.storageError()
}

// TakeGrowth returns the bytes of entries stored since the last call.
func (s *Store) TakeGrowth() int64 { return s.logs.stored.Swap(0) }

// StartRaft runs start, which is raft.NewRaft on this store, with its panics turned
// into an error wrapping ErrDamagedLog: Open reads first what NewRaft reads, so this is
// for damage its checks did not foresee. NewRaft starts no goroutine before the reads
// that panic.
func (s *Store) StartRaft(start func() (*raft.Raft, error)) (r *raft.Raft, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("%w: raft could not read its state in %s: %v", ErrDamagedLog, s.dir, p)
		}
	}()
	return start()
}

// Close closes what Open opened, in reverse order. Raft must have shut down first.
func (s *Store) Close() error {
	var errs []error
	if s.log != nil {
		if err := s.log.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close raft log: %w", err))
		}
	}
	if s.stable != nil {
		if err := s.stable.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close raft.db: %w", err))
		}
	}
	if s.trash != nil {
		s.trash.close()
	}
	return errors.Join(errs...)
}
