package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/types"

	"github.com/coal-mine/coal-mine/cluster/writeback"
)

// segmentFS is raft-wal's file system with cheaper log fsyncs. Every Raft entry waits
// for two of them in series (the leader's, then a follower's), and with the default one
// each cost about 50 µs more than it has to on this project's ext4, for two reasons:
//
//   - raft-wal preallocates a segment with fallocate, which leaves its blocks
//     "unwritten": the first write to each block changes the file's extent map, so the
//     fsync that follows writes metadata as well as the entry.
//   - it syncs with fsync, which also writes the inode's new modification time.
//
// So segments are created from a spare: a file of the segment's size written full of
// zeros (what an unwritten block reads as, so raft-wal sees the same file) and fsynced
// before it is renamed into place, and appends are synced with fdatasync, which writes
// only what reading the data back needs. Measured on this machine, an fsync of a 3 KB
// append took 254 µs on average into a fallocated segment and 207 µs with both changes,
// 331 and 270 µs while a 3-node cluster was under load.
//
// The spare is written in the background once the segment in use is half full, so it is
// ready when raft-wal moves on: a small log never writes one. Without a spare (the first
// segment, or a spare still being written) a segment is created as raft-wal does.
type segmentFS struct {
	*fs.FS
	logger hclog.Logger
	size   uint64                 // bytes per segment: the size of a spare
	sync   func(dir string) error // syncs a directory; tests count the calls

	mu        sync.Mutex // guards the spare's rename into place and its use
	preparing atomic.Bool
	fromSpare atomic.Int64 // segments made from a spare, for the logs and tests
	stop      chan struct{}
	done      sync.WaitGroup

	// For nextSegmentReady: the segment being appended to, whether a spare is ready,
	// and why the last attempt to write one failed (nil after a success).
	tail       atomic.Pointer[segmentFile]
	spareReady atomic.Bool
	spareMu    sync.Mutex
	spareErr   error
	spareErrAt time.Time
}

const (
	// spareName is the spare segment, ready to be renamed into place; spareTempName is
	// one being written. raft-wal lists only names ending in ".wal".
	spareName     = "spare.segment"
	spareTempName = "spare.segment.tmp"
	// spareChunk is how much of the spare is written per call, and sparePause the pause
	// after each writeback window, so that writing 64 MB of zeros never keeps the log's
	// fsyncs waiting behind more than a window (see writeback).
	spareChunk = 1 << 20
	sparePause = 10 * time.Millisecond
)

var _ types.VFS = (*segmentFS)(nil)

// newSegmentFS serves a WAL whose segments are size bytes.
func newSegmentFS(logger hclog.Logger, size uint64) *segmentFS {
	return &segmentFS{FS: fs.New(), logger: logger, size: size, sync: syncDir, stop: make(chan struct{})}
}

// close stops a spare being written, which removes its half-written file, and waits for
// it (it looks between 8 MiB windows, so a smaller spare is finished first).
func (s *segmentFS) close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.done.Wait()
}

// removeSpares removes the spares in dir, ready or half-written.
func (s *segmentFS) removeSpares(dir string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spareReady.Store(false)
	for _, name := range []string{spareName, spareTempName} {
		err := os.Remove(filepath.Join(dir, name))
		switch {
		case err == nil:
			s.logger.Info("removed a spare log segment left by the last run", "file", name)
		case !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("remove the spare log segment: %w", err)
		}
	}
	return nil
}

// Create creates segment name from the spare when there is one of the right size, and
// as raft-wal does otherwise.
func (s *segmentFS) Create(dir, name string, size uint64) (types.WritableFile, error) {
	f, err := s.takeSpare(dir, name, size)
	if err == nil {
		s.logger.Debug("log segment made from the spare", "segment", name, "from_spare", s.fromSpare.Add(1))
		return f, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	wf, err := s.FS.Create(dir, name, size)
	if err != nil {
		return nil, err
	}
	created, ok := wf.(*fs.File)
	if !ok {
		return wf, nil
	}
	return s.newFile(&created.File, dir, true), nil
}

// OpenWriter opens an existing segment (the tail, after a restart) for appending. Its
// name may not be durable yet: a crash can come between a spare's rename and the new
// segment's first sync, and an fdatasync of the entries appended after the restart does
// not make the rename durable. So its first Sync syncs the directory too.
func (s *segmentFS) OpenWriter(dir, name string) (types.WritableFile, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	return s.newFile(f, dir, true), nil
}

// takeSpare renames the spare to name and opens it, or fails with an error wrapping
// os.ErrNotExist when there is no spare ready.
func (s *segmentFS) takeSpare(dir, name string, size uint64) (types.WritableFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	spare := filepath.Join(dir, spareName)
	info, err := os.Stat(spare)
	if err != nil {
		return nil, err
	}
	if uint64(info.Size()) != size {
		// Written for another segment size: not usable, and the next spare replaces it.
		if err := os.Remove(spare); err != nil {
			return nil, fmt.Errorf("remove a spare of %d bytes for segments of %d: %w", info.Size(), size, err)
		}
		return nil, fmt.Errorf("spare of %d bytes for segments of %d: %w", info.Size(), size, os.ErrNotExist)
	}
	path := filepath.Join(dir, name)
	s.spareReady.Store(false)
	// raft-wal's Create must fail if the segment exists.
	if err := renameNoReplace(spare, path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("rename the spare to %s: %v", path, err) // not "no spare"
		}
		return nil, fmt.Errorf("rename the spare to %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	return s.newFile(f, dir, true), nil
}

// prepareSpare writes a spare in dir in the background, unless one is being written.
func (s *segmentFS) prepareSpare(dir string) {
	if !s.preparing.CompareAndSwap(false, true) {
		return
	}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		defer s.preparing.Store(false)
		err := s.writeSpare(dir)
		if errors.Is(err, errSegmentFSClosed) {
			return
		}
		s.spareMu.Lock()
		first := err != nil && s.spareErr == nil
		s.spareErr, s.spareErrAt = err, time.Now()
		s.spareMu.Unlock()
		if first {
			s.logger.Warn("cannot prepare the next log segment: appends stop before this one is full, until one can be written",
				"dir", dir, "error", err)
		}
	}()
}

// spareRetry is how often nextSegmentReady tries again to write a spare that failed.
const spareRetry = time.Second

// nextSegmentReady returns an error when the segment being appended to is past its
// middle and the next one cannot be made: no spare is ready or being written, and the
// last attempt to write one failed (then it starts another, at most every spareRetry).
// raft-wal seals a full segment and then makes the next; when it cannot make it (a full
// disk: it preallocates 64 MiB), it refuses every later append until it is reopened, and
// a node stayed leaderless until restarted. Refusing appends early instead keeps the log
// whole and lets them resume as soon as a spare can be written.
func (s *segmentFS) nextSegmentReady() error {
	t := s.tail.Load()
	if t == nil || !t.asked.Load() || s.spareReady.Load() || s.preparing.Load() {
		return nil
	}
	s.spareMu.Lock()
	err, at := s.spareErr, s.spareErrAt
	s.spareMu.Unlock()
	if err == nil || time.Since(at) >= spareRetry {
		s.prepareSpare(t.dir)
	}
	if err != nil {
		return fmt.Errorf("prepare the next log segment: %w", err)
	}
	return nil
}

var errSegmentFSClosed = errors.New("log closed")

// writeSpare writes a spare in dir, unless one is there.
func (s *segmentFS) writeSpare(dir string) error {
	size := s.size
	spare := filepath.Join(dir, spareName)
	if info, err := os.Stat(spare); err == nil && uint64(info.Size()) == size {
		s.spareReady.Store(true)
		return nil // one is ready
	}
	tmp := filepath.Join(dir, spareTempName)
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	flush := writeback.ForFile(f)
	zeros := make([]byte, spareChunk)
	for written := uint64(0); written < size; {
		n := min(uint64(len(zeros)), size-written)
		if _, err := f.Write(zeros[:n]); err != nil {
			return err // names the file
		}
		written += n
		flush.Wrote(int(n))
		if written%writeback.Window == 0 {
			select {
			case <-s.stop:
				return errSegmentFSClosed
			case <-time.After(sparePause):
			}
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	ok = true
	s.mu.Lock()
	err = os.Rename(tmp, spare)
	if err == nil {
		s.spareReady.Store(true)
	}
	s.mu.Unlock()
	if err != nil {
		os.Remove(tmp)
		return err
	}
	// The rename need not be durable on its own: the segment made from the spare syncs
	// the directory before its first entry is acknowledged (segmentFile.Sync).
	return nil
}

// newFile wraps f, a segment in dir opened for appending, which makes it the tail;
// isNew says its directory entry may not be durable.
func (s *segmentFS) newFile(f *os.File, dir string, isNew bool) *segmentFile {
	sf := &segmentFile{File: f, fs: s, dir: dir}
	sf.dirSynced.Store(!isNew)
	s.tail.Store(sf)
	return sf
}

// segmentFile is an open segment. Its Sync is an fdatasync, and the first Sync of a new
// segment also syncs its directory, so that the file is still there after a crash (as
// raft-wal's own file does). A write past the segment's middle asks for a spare.
type segmentFile struct {
	*os.File
	fs        *segmentFS
	dir       string
	dirSynced atomic.Bool
	asked     atomic.Bool
}

func (f *segmentFile) WriteAt(p []byte, off int64) (int, error) {
	if !f.asked.Load() && uint64(off)+uint64(len(p)) > f.fs.size/2 {
		f.asked.Store(true)
		f.fs.prepareSpare(f.dir)
	}
	return f.File.WriteAt(p, off)
}

func (f *segmentFile) Sync() error {
	if err := dataSync(f.File); err != nil {
		return err
	}
	if !f.dirSynced.Load() {
		if err := f.fs.sync(f.dir); err != nil {
			return err
		}
		f.dirSynced.Store(true)
	}
	return nil
}

// renameIfAbsent renames from to to unless to exists.
func renameIfAbsent(from, to string) error {
	if _, err := os.Lstat(to); err == nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: os.ErrExist}
	}
	return os.Rename(from, to)
}

// syncDir fsyncs a directory, making the names created in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}
