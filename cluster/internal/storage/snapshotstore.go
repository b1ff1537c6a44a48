package storage

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/coal-mine/coal-mine/cluster/internal/hclogslog"
	"github.com/coal-mine/coal-mine/cluster/writeback"
	"github.com/hashicorp/raft"
)

// snapshotStore is raft's FileSnapshotStore (in <DataDir>/snapshots) with two changes
// that keep a big snapshot from stalling the Raft log, which shares its disk: a million
// canaries make a 260 MB snapshot.
//
//   - A snapshot being written is handed to the disk as it grows (package writeback),
//     not all at once when it is closed: the single fsync of 260 MB took 171 ms, and the
//     log fsyncs queued behind it took 30 to 52 ms instead of under one.
//   - Old snapshots go to the trash instead of being unlinked in one go (76 ms for
//     260 MB, during which a log fsync took 65 ms). The trash frees a file by
//     truncating it, which a reader would see, so a snapshot that is open (being sent to
//     a follower, restored or backed up) is reaped when its last reader closes it.
//
// It relies on the layout FileSnapshotStore has kept since raft 1.0: a snapshot being
// written is <id>.tmp/state.bin, a finished one <id>/state.bin. Should that change, the
// writeback is skipped and old snapshots are deleted at once: slower, never wrong.
type snapshotStore struct {
	*raft.FileSnapshotStore
	dir    string // <DataDir>/snapshots
	retain int
	trash  *trash
	logger *slog.Logger

	mu      sync.Mutex
	readers map[string]int  // snapshot id -> readers that have it open
	skipped map[string]bool // snapshots reap left because they were open

	// Set by checkSnapshots at start, then only read: the snapshot the node starts from
	// (nil for none), the damaged ones, and those of them raft must not see.
	usable  *raft.SnapshotMeta
	damaged []damagedSnapshot
	hidden  map[string]bool
}

const (
	snapshotsDirName = "snapshots"
	stateFileName    = "state.bin"
	metaFileName     = "meta.json"
	// snapshotRetainAll keeps FileSnapshotStore from reaping on its own: this store
	// reaps, through the trash.
	snapshotRetainAll = 1 << 30
)

func newSnapshotStore(dataDir string, retain int, trash *trash, logger *slog.Logger, hclogger *hclogslog.Logger) (*snapshotStore, error) {
	inner, err := raft.NewFileSnapshotStoreWithLogger(dataDir, snapshotRetainAll, hclogger.Named("snapshots"))
	if err != nil {
		return nil, err
	}
	s := &snapshotStore{
		FileSnapshotStore: inner,
		dir:               filepath.Join(dataDir, snapshotsDirName),
		retain:            retain,
		trash:             trash,
		logger:            logger,
		readers:           map[string]int{},
		skipped:           map[string]bool{},
		hidden:            map[string]bool{},
	}
	// Before anything is reaped: a damaged snapshot must not count as one retained.
	if err := s.checkSnapshots(); err != nil {
		return nil, err
	}
	// What a stopped node left beyond retain (a snapshot that was open) goes now.
	if err := s.reap(); err != nil {
		logger.Warn("could not delete old snapshots", "err", err)
	}
	return s, nil
}

// Open opens a snapshot for reading; until the reader is closed, reap leaves it alone.
func (s *snapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	s.mu.Lock()
	s.readers[id]++
	s.mu.Unlock()
	meta, rc, err := s.FileSnapshotStore.Open(id)
	if err != nil {
		s.release(id)
		return nil, nil, err
	}
	return meta, &snapshotReader{ReadCloser: rc, release: func() { s.release(id) }}, nil
}

func (s *snapshotStore) release(id string) {
	s.mu.Lock()
	s.readers[id]--
	last := s.readers[id] <= 0
	if last {
		delete(s.readers, id)
	}
	wasSkipped := last && s.skipped[id]
	s.mu.Unlock()
	if wasSkipped {
		if err := s.reap(); err != nil {
			s.logger.Warn("could not delete old snapshots", "err", err)
		}
	}
}

// snapshotReader is an open snapshot that tells its store when it is closed.
type snapshotReader struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (r *snapshotReader) Close() error {
	err := r.ReadCloser.Close()
	r.once.Do(r.release)
	return err
}

// Create starts a snapshot whose state is flushed as it is written.
func (s *snapshotStore) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.FileSnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(s.dir, sink.ID()+".tmp", stateFileName)
	return &pacedSink{SnapshotSink: sink, store: s, writeback: writeback.ForPath(path)}, nil
}

// reap moves the snapshots beyond the newest retain into the trash.
func (s *snapshotStore) reap() error {
	metas, err := s.List() // newest first
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	// Held throughout, so that no reader opens a snapshot between the check and its
	// removal: an Open then fails, as it would on a snapshot already gone.
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, m := range metas[min(s.retain, len(metas)):] {
		if s.readers[m.ID] > 0 {
			s.skipped[m.ID] = true // reaped when its last reader closes it
			continue
		}
		delete(s.skipped, m.ID)
		// meta.json first: a snapshot without it is no longer listed, so a crash part
		// way leaves no listed snapshot without its state.
		dir := filepath.Join(s.dir, m.ID)
		if err := os.Remove(filepath.Join(dir, metaFileName)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		if err := s.trash.discard(filepath.Join(dir, stateFileName)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reap snapshots: %w", err)
	}
	return nil
}

// pacedSink is a snapshot being written: it starts the disk write of each stretch as
// soon as it is written, and closing it reaps old snapshots.
type pacedSink struct {
	raft.SnapshotSink
	store     *snapshotStore
	writeback *writeback.Writer
}

func (p *pacedSink) Write(b []byte) (int, error) {
	n, err := p.SnapshotSink.Write(b)
	p.writeback.Wrote(n)
	return n, err
}

// Close finishes the snapshot (FileSnapshotStore fsyncs what is left and renames it into
// place), then reaps.
func (p *pacedSink) Close() error {
	p.writeback.Close()
	if err := p.SnapshotSink.Close(); err != nil {
		return err
	}
	if err := p.store.reap(); err != nil {
		// The new snapshot is in place; an old one left behind is reaped next time.
		p.store.logger.Warn("could not delete old snapshots", "err", err)
	}
	return nil
}

func (p *pacedSink) Cancel() error {
	p.writeback.Close()
	return p.SnapshotSink.Cancel()
}
