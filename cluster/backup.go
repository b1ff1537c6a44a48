package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// A backup is a raft snapshot framed so that Restore can tell a complete,
// intact backup from anything else before it touches the cluster (an FSM
// that fails to restore makes raft panic):
//
//	magic "CMRAFTBK" | format u16 | raft snapshot version u16 |
//	index u64 | term u64 | size u64 | size bytes of snapshot | sha256(snapshot)
//
// All integers are big-endian.
var backupMagic = [8]byte{'C', 'M', 'R', 'A', 'F', 'T', 'B', 'K'}

const backupFormatV1 uint16 = 1

type backupHeader struct {
	Magic           [8]byte
	Format          uint16
	SnapshotVersion uint16
	Index           uint64
	Term            uint64
	Size            uint64
}

// SnapshotValidator may be implemented by the FSM given to New: Restore
// then has it check a backup's snapshot before raft installs it, because raft
// panics if the FSM fails to restore an installed snapshot.
type SnapshotValidator interface {
	ValidateSnapshot(r io.Reader) error
}

// Backup writes a consistent snapshot of the whole state to w. On the leader
// it first waits for everything committed to be applied; elsewhere it is
// this node's applied state, once the node has caught up with the leader. A node
// that cannot take a snapshot within backupWait (it has not caught up, or its
// state machine has not reached the newest membership change) answers
// ErrBackupNotReady.
func (n *Node) Backup(ctx context.Context, w io.Writer) error {
	if n.isShutdown() {
		return ErrShutdown
	}
	if n.IsLeader() {
		if err := n.Barrier(ctx); err != nil && !errors.Is(err, ErrNotLeader) {
			return fmt.Errorf("backup: %w", err)
		}
	}
	start := time.Now()
	meta, snapshot, err := n.openSnapshotWaiting(ctx)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer snapshot.Close()
	opened := time.Now()
	if err := writeBackup(w, meta, snapshot); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	n.logger.Info("backup sent", "snapshot_index", meta.Index, "bytes", meta.Size,
		"snapshot_seconds", opened.Sub(start).Seconds(), "send_seconds", time.Since(opened).Seconds())
	return nil
}

// backupWait bounds how long Backup waits for this node to be able to take a snapshot.
// A follower usually needs milliseconds: its state machine applies the entries raft
// has just committed. One that is replaying a long log may need more; it answers
// ErrBackupNotReady, and another node can be asked.
const backupWait = 10 * time.Second

// openSnapshotWaiting is openSnapshot, retried while the snapshot cannot be taken
// yet, up to backupWait. A follower first waits until it is Ready: a backup from a
// node that has not caught up since it started would hold an old state.
func (n *Node) openSnapshotWaiting(ctx context.Context) (*raft.SnapshotMeta, io.ReadCloser, error) {
	deadline := time.Now().Add(backupWait)
	delay := 5 * time.Millisecond
	for {
		var (
			meta     *raft.SnapshotMeta
			snapshot io.ReadCloser
			err      error
		)
		if n.IsLeader() || n.Ready() {
			meta, snapshot, err = n.openSnapshot(ctx)
			if err == nil || !errors.Is(err, errSnapshotNotYet) {
				return meta, snapshot, err
			}
		} else {
			err = errors.New("this node has not caught up with the leader")
		}
		if time.Now().Add(delay).After(deadline) {
			return nil, nil, fmt.Errorf("%w after %v: %w", ErrBackupNotReady, backupWait, err)
		}
		if !n.sleep(ctx, delay) {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			return nil, nil, ErrShutdown
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// errSnapshotNotYet marks what openSnapshot cannot do now but can once the state
// machine has applied more.
var errSnapshotNotYet = errors.New("the state machine has not applied enough to snapshot")

// openSnapshot takes a fresh snapshot, or, if nothing was applied since the
// last one, opens the latest stored one.
func (n *Node) openSnapshot(ctx context.Context) (*raft.SnapshotMeta, io.ReadCloser, error) {
	future := n.raft.Snapshot()
	err := n.waitFuture(ctx, future)
	if err == nil {
		return future.Open()
	}
	if raftWaitsForConfiguration(err) {
		return nil, nil, fmt.Errorf("%w: %w", errSnapshotNotYet, err)
	}
	if !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return nil, nil, err
	}
	stored, err := n.snapshots.List()
	if err != nil {
		return nil, nil, fmt.Errorf("list snapshots: %w", err)
	}
	if len(stored) == 0 {
		return nil, nil, fmt.Errorf("%w: %w", errSnapshotNotYet, ErrNothingToBackup)
	}
	return n.snapshots.Open(stored[0].ID) // newest first
}

// raftWaitsForConfiguration reports raft's refusal to snapshot a state machine that
// has not yet applied the newest committed configuration entry (raft v1.7
// snapshot.go: "cannot take snapshot now, wait until the configuration entry at %v
// has been applied"). raft has no sentinel error for it. The follower's main loop
// commits a configuration before its state machine goroutine gets to it, so the
// refusal lasts as long as the state machine lags behind.
func raftWaitsForConfiguration(err error) bool {
	return strings.Contains(err.Error(), "wait until the configuration entry")
}

// StoreConfiguration makes the state machine a raft.ConfigurationStore, for one
// effect: raft then counts a configuration entry as applied by the state machine.
// Without it, raft's record of what the state machine applied stops at the last
// command, and raft refuses every snapshot while a configuration entry after it is
// committed: a follower whose newest entries were a membership change could take no
// snapshot, so no backup, until the next write (the leader's Barrier hides this on
// the leader). The configuration itself is kept by raft in its log and snapshots.
func (f *appliedFSM) StoreConfiguration(uint64, raft.Configuration) {}

var _ raft.ConfigurationStore = (*appliedFSM)(nil)

func writeBackup(w io.Writer, meta *raft.SnapshotMeta, snapshot io.Reader) error {
	header := backupHeader{
		Magic:           backupMagic,
		Format:          backupFormatV1,
		SnapshotVersion: uint16(meta.Version),
		Index:           meta.Index,
		Term:            meta.Term,
		Size:            uint64(meta.Size),
	}
	if err := binary.Write(w, binary.BigEndian, &header); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	sum := sha256.New()
	copied, err := io.Copy(io.MultiWriter(w, sum), snapshot)
	if err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if copied != meta.Size {
		return fmt.Errorf("snapshot is %d bytes, its metadata says %d", copied, meta.Size)
	}
	if _, err := w.Write(sum.Sum(nil)); err != nil {
		return fmt.Errorf("write checksum: %w", err)
	}
	return nil
}

// Restore replaces the state of the whole cluster with a backup written by
// Backup. It runs on the leader, which installs the snapshot and sends it to
// every follower; it returns once a quorum has it. The backup is checked in
// full (and by the FSM, if it is a SnapshotValidator) before anything
// changes. If ctx ends first, the restore still completes in the background.
func (n *Node) Restore(ctx context.Context, r io.Reader) error {
	if err := n.checkLeader(ctx); err != nil {
		return err
	}
	meta, file, err := n.receiveBackup(r)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}

	done := make(chan error, 1)
	go func() {
		defer os.Remove(file.Name())
		defer file.Close()
		done <- translateRaftError(n.raft.Restore(meta, file, enqueueTimeout(ctx)))
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	case <-n.stopCh:
		err = ErrShutdown
	}
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	n.logger.Info("restored backup", "snapshot_index", meta.Index, "bytes", meta.Size)
	return nil
}

// receiveBackup checks a backup stream and spools its snapshot to a
// temporary file in the data directory, returned open at offset 0.
func (n *Node) receiveBackup(r io.Reader) (_ *raft.SnapshotMeta, _ *os.File, err error) {
	var header backupHeader
	if err := binary.Read(r, binary.BigEndian, &header); err != nil {
		return nil, nil, fmt.Errorf("%w: reading header: %w", ErrBadBackup, err)
	}
	if header.Magic != backupMagic {
		return nil, nil, fmt.Errorf("%w: wrong magic", ErrBadBackup)
	}
	if header.Format != backupFormatV1 {
		return nil, nil, fmt.Errorf("%w: format %d not understood", ErrBadBackup, header.Format)
	}
	version := raft.SnapshotVersion(header.SnapshotVersion)
	if version < raft.SnapshotVersionMin || version > raft.SnapshotVersionMax {
		return nil, nil, fmt.Errorf("%w: raft snapshot version %d not supported", ErrBadBackup, version)
	}

	file, err := os.CreateTemp(n.cfg.DataDir, "restore-*.tmp")
	if err != nil {
		return nil, nil, fmt.Errorf("spool backup: %w", err)
	}
	defer func() {
		if err != nil {
			file.Close()
			os.Remove(file.Name())
		}
	}()

	sum := sha256.New()
	copied, err := io.CopyN(io.MultiWriter(file, sum), r, int64(header.Size))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: snapshot truncated after %d of %d bytes: %w", ErrBadBackup, copied, header.Size, err)
	}
	var trailer [sha256.Size]byte
	if _, err := io.ReadFull(r, trailer[:]); err != nil {
		return nil, nil, fmt.Errorf("%w: missing checksum: %w", ErrBadBackup, err)
	}
	if !bytes.Equal(trailer[:], sum.Sum(nil)) {
		return nil, nil, fmt.Errorf("%w: checksum mismatch", ErrBadBackup)
	}
	if extra, _ := io.ReadFull(r, make([]byte, 1)); extra > 0 {
		return nil, nil, fmt.Errorf("%w: data after the checksum", ErrBadBackup)
	}
	if err := file.Sync(); err != nil {
		return nil, nil, fmt.Errorf("spool backup: %w", err)
	}

	if v, ok := n.fsm.(SnapshotValidator); ok {
		if _, err := file.Seek(0, io.SeekStart); err != nil {
			return nil, nil, fmt.Errorf("spool backup: %w", err)
		}
		if err := v.ValidateSnapshot(io.LimitReader(file, int64(header.Size))); err != nil {
			return nil, nil, fmt.Errorf("%w: rejected by the state machine: %w", ErrBadBackup, err)
		}
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("spool backup: %w", err)
	}
	return &raft.SnapshotMeta{
		Version: version,
		Index:   header.Index,
		Term:    header.Term,
		Size:    int64(header.Size),
	}, file, nil
}
