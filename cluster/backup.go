package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/coal-mine/coal-mine/cluster/internal/storage"
	"github.com/hashicorp/raft"
)

// A backup is a raft snapshot framed so that Restore can tell a complete,
// intact backup from anything else before it touches the cluster (an FSM
// that fails to restore makes raft panic):
//
//	magic "CMRAFTBK" | format u16 | raft snapshot version u16 |
//	index u64 | term u64 | size u64 | size bytes of snapshot | sha256
//
// All integers are big-endian. In format 2 the sha256 covers the header and the
// snapshot; in format 1 it covered the snapshot only.
//
// Format 1 backups are still restored: each header field is checked on its own
// (magic, format and version exactly, index and term against the bounds below, and
// size frames the stream, so a wrong size fails the checksum or the framing), and the
// only ones raft uses otherwise are harmless within their bounds: it numbers the
// restored snapshot max(last index, index)+1 and takes the term from the cluster.
// A damaged format 1 header can therefore at worst move the cluster's index forward.
var backupMagic = [8]byte{'C', 'M', 'R', 'A', 'F', 'T', 'B', 'K'}

const (
	backupFormatV1  uint16 = 1
	backupFormatV2  uint16 = 2
	backupHeaderLen        = 36

	// maxBackupIndex and maxBackupTerm bound a backup's header fields far below
	// overflow: raft numbers a restored snapshot index+1 and its entries after it, and a
	// backup whose index was 2^64-1 wrapped that arithmetic and wedged the cluster. No
	// real cluster writes 2^62 entries or holds 2^62 elections.
	maxBackupIndex = 1 << 62
	maxBackupTerm  = 1 << 62
)

type backupHeader struct {
	Magic           [8]byte
	Format          uint16
	SnapshotVersion uint16
	Index           uint64
	Term            uint64
	Size            uint64
}

// check refuses a header that no Backup wrote, saying which field is wrong.
func (h *backupHeader) check() error {
	version := raft.SnapshotVersion(h.SnapshotVersion)
	switch {
	case h.Magic != backupMagic:
		return errors.New("wrong magic: not a coal-mine backup")
	case h.Format != backupFormatV1 && h.Format != backupFormatV2:
		return fmt.Errorf("format %d not understood", h.Format)
	case version < raft.SnapshotVersionMin || version > raft.SnapshotVersionMax:
		return fmt.Errorf("raft snapshot version %d not supported", version)
	case h.Index == 0 || h.Index > maxBackupIndex:
		return fmt.Errorf("header index %d is not between 1 and 2^62", h.Index)
	case h.Term == 0 || h.Term > maxBackupTerm:
		return fmt.Errorf("header term %d is not between 1 and 2^62", h.Term)
	case h.Size > math.MaxInt64:
		return fmt.Errorf("header size %d is too large", h.Size)
	}
	return nil
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
	stored, err := n.store.Snapshots().List()
	if err != nil {
		return nil, nil, fmt.Errorf("list snapshots: %w", err)
	}
	if len(stored) == 0 {
		return nil, nil, fmt.Errorf("%w: %w", errSnapshotNotYet, ErrNothingToBackup)
	}
	return n.store.Snapshots().Open(stored[0].ID) // newest first
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
		Format:          backupFormatV2,
		SnapshotVersion: uint16(meta.Version),
		Index:           meta.Index,
		Term:            meta.Term,
		Size:            uint64(meta.Size),
	}
	sum := sha256.New()
	out := io.MultiWriter(w, sum)
	if err := binary.Write(out, binary.BigEndian, &header); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	copied, err := io.Copy(out, snapshot)
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
// full, its snapshot decoded completely by the FSM (which must be a
// SnapshotValidator), before anything changes: a refused backup changes nothing
// and returns an error wrapping ErrBadBackup that says what is wrong. If ctx
// ends first, the restore still completes in the background.
func (n *Node) Restore(ctx context.Context, r io.Reader) error {
	if _, ok := n.fsm.(SnapshotValidator); !ok {
		// Without one, a backup that decodes badly would be found out only when raft
		// installs it, with a panic.
		return fmt.Errorf("restore: %w: the state machine cannot validate a backup", ErrBadBackup)
	}
	if err := n.checkLeader(ctx); err != nil {
		return err
	}
	meta, file, err := n.receiveBackup(r)
	if err != nil {
		return err // "cluster: not a valid backup: ..." says what failed
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
// temporary file in the data directory, returned open at offset 0. On any
// error the file is removed.
func (n *Node) receiveBackup(r io.Reader) (_ *raft.SnapshotMeta, _ *os.File, err error) {
	var raw [backupHeaderLen]byte
	if got, err := io.ReadFull(r, raw[:]); err != nil {
		return nil, nil, fmt.Errorf("%w: reading the header: %d of %d bytes: %w", ErrBadBackup, got, backupHeaderLen, err)
	}
	var header backupHeader
	if err := binary.Read(bytes.NewReader(raw[:]), binary.BigEndian, &header); err != nil {
		return nil, nil, fmt.Errorf("%w: reading the header: %w", ErrBadBackup, err)
	}
	if err := header.check(); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadBackup, err)
	}

	file, err := os.CreateTemp(n.cfg.DataDir, storage.RestoreTempPattern)
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
	if header.Format >= backupFormatV2 {
		sum.Write(raw[:])
	}
	copied, err := io.CopyN(io.MultiWriter(file, sum), r, int64(header.Size))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: snapshot truncated after %d of %d bytes: %w", ErrBadBackup, copied, header.Size, err)
	}
	var trailer [sha256.Size]byte
	if _, err := io.ReadFull(r, trailer[:]); err != nil {
		return nil, nil, fmt.Errorf("%w: missing checksum: %w", ErrBadBackup, err)
	}
	if !bytes.Equal(trailer[:], sum.Sum(nil)) {
		return nil, nil, fmt.Errorf("%w: checksum mismatch (format %d)", ErrBadBackup, header.Format)
	}
	if extra, _ := io.ReadFull(r, make([]byte, 1)); extra > 0 {
		return nil, nil, fmt.Errorf("%w: data after the checksum", ErrBadBackup)
	}
	if err := file.Sync(); err != nil {
		return nil, nil, fmt.Errorf("spool backup: %w", err)
	}

	v, ok := n.fsm.(SnapshotValidator)
	if !ok {
		return nil, nil, fmt.Errorf("%w: the state machine cannot validate a backup", ErrBadBackup)
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("spool backup: %w", err)
	}
	if err := v.ValidateSnapshot(io.LimitReader(file, int64(header.Size))); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadBackup, err)
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("spool backup: %w", err)
	}
	return &raft.SnapshotMeta{
		Version: raft.SnapshotVersion(header.SnapshotVersion),
		Index:   header.Index,
		Term:    header.Term,
		Size:    int64(header.Size),
	}, file, nil
}
