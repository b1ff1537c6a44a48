package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/coal-mine/coal-mine/cluster/internal/hclogslog"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
	"go.etcd.io/bbolt"
)

// Start-up checks. raft.NewRaft panics when it cannot read an entry between its newest
// snapshot and the end of the log, raft-wal and bbolt panic on some damaged bytes, and
// both quietly start over on others (raft-wal makes a new, empty log when its metadata
// is gone and deletes the segments it no longer knows; raft skips a snapshot whose
// metadata it cannot read and starts from an older one). So before NewRaft runs, every
// file it will read is read here first, under recover, and damage is refused with one
// error that names the file and says what to do; what can be recovered without losing
// anything acknowledged is recovered, and logged.

// ErrDamagedData means a file in the data directory other than the Raft log (raft.db,
// node-id, the snapshots) cannot be read back as it was written. The error says which
// and what to do. Damage to the log itself is ErrDamagedLog.
var ErrDamagedData = errors.New("the data directory is damaged")

// raftDBAdvice is what an operator can do about a damaged raft.db: it holds the term
// and vote, which nothing else records, so a node cannot safely go on with a rebuilt
// one (it could vote twice in a term); it rejoins as a new member instead.
const raftDBAdvice = "it holds this node's Raft term and vote, which cannot be rebuilt: " +
	"stop the node, move its data directory aside, remove it from the cluster (cmcli cluster remove-peer --id <node id>) " +
	"and start it with an empty data directory: it joins again and receives the state from the leader " +
	"(a single node: start it empty and restore a backup with cmcli snapshot restore)"

// protect runs f, turning a panic or a memory fault (bbolt reads its file through mmap)
// into an error.
func protect(f func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	return f()
}

// checkBoltFile opens the bbolt database at path as its owner will and reads every page
// it reaches, keys and values: bbolt panics on a damaged page at whatever read first
// meets it. A missing file is fine (its owner creates it).
func checkBoltFile(path string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var db *bbolt.DB
	err := protect(func() error {
		var err error
		db, err = bbolt.Open(path, 0o600, &bbolt.Options{Timeout: boltOpenTimeout})
		if err != nil {
			return err
		}
		return db.View(func(tx *bbolt.Tx) error {
			return tx.ForEach(func(_ []byte, b *bbolt.Bucket) error { return walkBucket(b) })
		})
	})
	if db != nil {
		// After a panic the database may hold locks that Close would wait for: the node
		// refuses to start and the process ends anyway.
		if err == nil {
			err = db.Close()
		}
	}
	return err
}

func walkBucket(b *bbolt.Bucket) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			if nested := b.Bucket(k); nested != nil {
				return walkBucket(nested)
			}
			return nil
		}
		crc32.ChecksumIEEE(v) // reads every byte of the value
		return nil
	})
}

// checkRaftDB refuses a damaged raft.db, and a missing or empty one in a data directory
// that holds a log or snapshots (bbolt would make a new one, and the node would go on
// with a term of 0 and no memory of its vote).
func checkRaftDB(dataDir string) error {
	path := filepath.Join(dataDir, "raft.db")
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || err == nil && info.Size() == 0 {
		_, walErr := os.Stat(filepath.Join(dataDir, walDirName, metadb.FileName))
		snapshots, _ := os.ReadDir(filepath.Join(dataDir, snapshotsDirName))
		if walErr == nil || len(snapshots) > 0 {
			return fmt.Errorf("%w: %s is missing or empty, yet the directory holds a raft log or snapshots: %s", ErrDamagedData, path, raftDBAdvice)
		}
		return nil
	}
	err = checkBoltFile(path)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bbolt.ErrTimeout):
		return fmt.Errorf("open raft.db: %w (is another coal-mine using %s?)", err, dataDir)
	}
	return fmt.Errorf("%w: %s cannot be read (%v): %s", ErrDamagedData, path, err, raftDBAdvice)
}

// checkWALMeta refuses a log whose metadata is missing or damaged while its segments
// are there: raft-wal would start a new, empty log and delete every segment.
func checkWALMeta(dir string) error {
	path := filepath.Join(dir, metadb.FileName)
	segments, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	info, err := os.Stat(path)
	switch {
	case len(segments) == 0:
		// A new log, or one that was just created: nothing to lose.
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s is missing, yet %s holds %d log segments: opened without it, the log would start empty and they would be deleted",
			ErrDamagedLog, path, dir, len(segments))
	case err == nil && info.Size() == 0:
		return fmt.Errorf("%w: %s is empty, yet %s holds %d log segments", ErrDamagedLog, path, dir, len(segments))
	}
	if err := checkBoltFile(path); err != nil && !errors.Is(err, bbolt.ErrTimeout) {
		return fmt.Errorf("%w: %s cannot be read: %v", ErrDamagedLog, path, err)
	}
	return nil
}

// checkSegmentFiles checks the segment files the log's metadata lists. Segments are
// created at their full size (preallocated, or renamed from a spare), never shortened,
// and deleted only once the metadata no longer lists them: a listed segment that is
// missing or short lost entries. The one exception is the tail right after it was made:
// raft-wal commits a new segment to its metadata before it creates the file, and a crash
// in between leaves no file, or an empty one if it came before the preallocation.
//
// It returns the frames of the unsealed tail (nil for none) for reportDroppedTail. A
// tail that holds an index frame was sealed on disk, but raft-wal did not record it in
// its metadata (a full disk, or a crash, between the two): raft-wal would open it and
// refuse every append ("segment is sealed"), at every start.
func checkSegmentFiles(dir string, state types.PersistentState, logger *hclogslog.Logger) (*tailScan, error) {
	var scan *tailScan
	for i, seg := range state.Segments {
		path := filepath.Join(dir, segment.FileName(seg))
		tail := i == len(state.Segments)-1 && seg.SealTime.IsZero()
		info, err := os.Stat(path)
		switch {
		case tail && (errors.Is(err, fs.ErrNotExist) || err == nil && info.Size() == 0):
			logger.Warn("the raft log's last segment is missing or empty: it is created anew; it held no entry if the node stopped just after creating it, otherwise the entries it held from here on are lost",
				"file", path, "first_entry", seg.BaseIndex)
		case err != nil:
			return nil, fmt.Errorf("%w: segment %s, which holds entries from %d on, cannot be read: %v", ErrDamagedLog, path, seg.BaseIndex, err)
		case uint64(info.Size()) < uint64(seg.SizeLimit):
			return nil, fmt.Errorf("%w: segment %s, which holds entries from %d on, is %d bytes where its segments are written %d: it was cut short",
				ErrDamagedLog, path, seg.BaseIndex, info.Size(), seg.SizeLimit)
		case tail:
			if scan, err = scanTail(path); err != nil {
				return nil, fmt.Errorf("%w: segment %s cannot be read: %v", ErrDamagedLog, path, err)
			}
			if scan.indexAt >= 0 {
				return nil, fmt.Errorf("%w: segment %s was sealed (it ends in an index, at offset %d) but the log's metadata does not say so: raft-wal would refuse every append",
					ErrDamagedLog, path, scan.indexAt)
			}
		}
	}
	return scan, nil
}

// Frame layout of a raft-wal segment (raft-wal segment/format.go): a 32-byte file
// header, then frames of an 8-byte header (type, 3 bytes zero, a little-endian length,
// or for a commit frame the CRC of the batch) and a payload padded to 8 bytes.
const (
	walFileHeaderLen  = 32
	walFrameHeaderLen = 8
	walFrameEntry     = 1
	walFrameIndex     = 2
	walFrameCommit    = 3
)

type walFrame struct {
	offset int64
	length uint32
}

// tailScan is what the frames of a tail segment hold, read as raft-wal's recovery reads
// them but without checking the last batch's CRC.
type tailScan struct {
	entries    []walFrame // every entry frame, committed or not
	commits    []walCommit
	unfinished int   // entry frames after the last commit frame
	junkAt     int64 // offset of a damaged frame header where reading stopped, or -1
	indexAt    int64 // offset of an index frame (the segment was sealed), or -1
}

// walCommit is a commit frame: how many entries the segment held with it, and the
// offset just past it, where the next write goes.
type walCommit struct {
	entries int
	end     int64
}

// committed is how many entries the last commit frame commits.
func (s *tailScan) committed() int {
	if len(s.commits) == 0 {
		return 0
	}
	return s.commits[len(s.commits)-1].entries
}

// keptEnd is the offset just past the commit frame after entry number kept (1 is the
// first), or past the file header for none.
func (s *tailScan) keptEnd(kept int) int64 {
	for _, c := range s.commits {
		if c.entries >= kept {
			if kept == 0 {
				break
			}
			return c.end
		}
	}
	return walFileHeaderLen
}

func scanTail(path string) (*tailScan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	scan := &tailScan{junkAt: -1, indexAt: -1}
	r := bufio.NewReaderSize(f, 1<<16)
	if _, err := r.Discard(walFileHeaderLen); err != nil {
		return scan, nil // no header: an empty tail
	}
	var header [walFrameHeaderLen]byte
	for offset := int64(walFileHeaderLen); ; {
		if _, err := io.ReadFull(r, header[:]); err != nil {
			break // the end of the file
		}
		typ, length := header[0], binary.LittleEndian.Uint32(header[4:])
		if typ == 0 || typ > walFrameCommit {
			// Zeros: the end of what was written. Anything else: raft-wal stops too
			// (it ignores the reserved bytes of a frame of a known type).
			if header != [walFrameHeaderLen]byte{} {
				scan.junkAt = offset
			}
			break
		}
		switch typ {
		case walFrameCommit:
			length = 0
			scan.commits = append(scan.commits, walCommit{entries: len(scan.entries), end: offset + walFrameHeaderLen})
		case walFrameEntry:
			scan.entries = append(scan.entries, walFrame{offset: offset, length: length})
		case walFrameIndex:
			scan.indexAt = offset
		}
		size := int64(length) + int64((walFrameHeaderLen-length%walFrameHeaderLen)%walFrameHeaderLen)
		if _, err := r.Discard(int(size)); err != nil {
			break
		}
		offset += walFrameHeaderLen + size
	}
	scan.unfinished = len(scan.entries) - scan.committed()
	return scan, nil
}

// reportDroppedTail logs, in one line, what raft-wal's recovery of the log's tail has
// just dropped. raft-wal checks the CRC of the last committed batch only and, when it
// fails, drops the batch as a write torn by a crash, silently. That is right for a torn
// write, which was never acknowledged, but a byte flipped on disk in that batch drops
// entries this node had acknowledged. Dropping them is still all the node can do
// (repair-log would drop them too; in a cluster the leader sends committed entries
// again), so the node starts, and the log says exactly what went. Bytes left after the
// end of the log by an earlier torn write are reported the same way until new entries
// overwrite them.
func reportDroppedTail(dir string, state types.PersistentState, scan *tailScan, lastIndex uint64, logger *hclogslog.Logger) {
	if len(state.Segments) == 0 || scan == nil {
		return // no tail, or a missing one, which checkSegmentFiles reported
	}
	seg := state.Segments[len(state.Segments)-1]
	path := filepath.Join(dir, segment.FileName(seg))
	kept := 0
	if lastIndex >= seg.BaseIndex {
		kept = int(lastIndex - seg.BaseIndex + 1)
	}
	var what []string
	if n := scan.committed(); n > kept {
		what = append(what, describeEntries(path, scan.entries[kept:n], seg.BaseIndex+uint64(kept))+
			" (committed by the last commit frame, whose checksum does not match)")
	}
	if scan.unfinished > 0 {
		what = append(what, fmt.Sprintf("%d entry frames with no commit frame after them", scan.unfinished))
	}
	if scan.junkAt >= 0 {
		what = append(what, fmt.Sprintf("an unreadable frame header at offset %d", scan.junkAt))
	}
	if len(what) == 0 {
		return
	}
	logger.Error(fmt.Sprintf("the end of the raft log is damaged or was torn by a crash: what follows entry %d, from offset %d, is dropped: %s. "+
		"A write torn by a power failure was never acknowledged; otherwise this node had acknowledged what it held: in a cluster the leader sends committed entries again, a single node has lost them",
		lastIndex, scan.keptEnd(kept), strings.Join(what, "; ")), "file", path)
}

// describeEntries names the entries in frames, the first being first, by index and,
// where they decode, term.
func describeEntries(path string, frames []walFrame, first uint64) string {
	desc := fmt.Sprintf("entries %d-%d", first, first+uint64(len(frames))-1)
	if len(frames) == 1 {
		desc = fmt.Sprintf("entry %d", first)
	}
	f, err := os.Open(path)
	if err != nil {
		return desc
	}
	defer f.Close()
	codec := &wal.BinaryCodec{}
	var low, high uint64
	for _, fr := range frames {
		data := make([]byte, fr.length)
		if _, err := f.ReadAt(data, fr.offset+walFrameHeaderLen); err != nil {
			break
		}
		if l, err := decodeEntry(codec, data); err == nil {
			if low == 0 || l.Term < low {
				low = l.Term
			}
			high = max(high, l.Term)
		}
	}
	switch {
	case low == 0:
		return desc
	case low == high:
		return fmt.Sprintf("%s (term %d)", desc, low)
	}
	return fmt.Sprintf("%s (terms %d-%d)", desc, low, high)
}

// removeStaleRestores removes the files a restore upload was spooled to when the node
// stopped during it.
func removeStaleRestores(dataDir string, logger *slog.Logger) {
	stale, _ := filepath.Glob(filepath.Join(dataDir, RestoreTempPattern))
	for _, path := range stale {
		if err := os.Remove(path); err == nil {
			logger.Info("removed a backup upload left by the last run", "file", path)
		}
	}
}
