package storage

import (
	"errors"
	"fmt"
	"sync"
	"syscall"

	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
)

// ErrDiskFull is what StorageError wraps while the node cannot write its Raft log
// because its file system is full.
var ErrDiskFull = errors.New("disk full")

// A full disk. When the leader cannot write an entry to its log, raft answers the
// write's future with the error and steps down; a follower that cannot append answers
// the leader no, and the leader sends the entries again. Neither panics (raft does panic
// if it cannot save its term in raft.db, which bbolt writes in pages it already has).
// So a node on a full disk goes on serving reads, and a single node keeps electing
// itself and stepping down: writes fail, and would be reported as "no leader". The log
// store therefore remembers why its last append failed, StorageError reports it (HTTP
// answers writes with it), and appends resume as soon as one succeeds. Its part in
// resuming: it never lets raft-wal run into a full segment without a spare ready
// (segmentFS.nextSegmentReady), the one failure raft-wal does not recover from.

// storageState is the outcome of the log's last append.
type storageState struct {
	mu  sync.Mutex
	err error // nil: the last append succeeded
}

// StoreLogs appends entries, first making sure that raft-wal can move on to a new
// segment when this one is full, and records the outcome for StorageError.
func (s *logStore) StoreLogs(logs []*raft.Log) error {
	err := s.fs.nextSegmentReady()
	if err == nil {
		err = s.WAL.StoreLogs(logs)
	}
	s.noteAppend(err)
	if err != nil {
		return s.explain(err)
	}
	return nil
}

// StoreLog appends one entry.
func (s *logStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// explain names the log and the disk in an append's error: ErrDiskFull when the file
// system is full.
func (s *logStore) explain(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: the raft log in %s cannot be written: %w (ENOSPC)", ErrDiskFull, s.dir, err)
	case errors.Is(err, wal.ErrSealed):
		// nextSegmentReady makes this rare: raft-wal could not make its next segment
		// anyway (a "rotate error" is logged) and takes no append until reopened.
		return fmt.Errorf("the raft log in %s could not start its next segment (see the rotate error logged before): restart the node once the cause is fixed: %w", s.dir, err)
	}
	return fmt.Errorf("the raft log in %s cannot be written: %w", s.dir, err)
}

// noteAppend records the outcome of an append, logging when the log stops and starts
// taking appends (not at each one: a leaderless single node tries every two seconds).
func (s *logStore) noteAppend(err error) {
	s.state.mu.Lock()
	was := s.state.err
	if err != nil {
		s.state.err = s.explain(err)
	} else {
		s.state.err = nil
	}
	s.state.mu.Unlock()
	if s.logger == nil {
		return
	}
	switch logger := s.logger.Slog(); {
	case err != nil && was == nil:
		logger.Error("the raft log refuses appends: this node takes no writes until it can append again; reads go on", "error", s.explain(err))
	case err == nil && was != nil:
		logger.Info("the raft log takes appends again", "was", was)
	}
}

// storageError is why the log's last append failed, nil if it succeeded.
func (s *logStore) storageError() error {
	s.state.mu.Lock()
	defer s.state.mu.Unlock()
	return s.state.err
}
