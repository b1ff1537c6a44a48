package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// trash deletes big files (compacted Raft log segments, old snapshots) in the
// background and a few megabytes at a time.
//
// Unlinking a 64 MB WAL segment took 25 ms on this project's ext4 (mounted with
// discard, so freeing blocks is a device command), and raft-wal unlinks the segments a
// compaction frees while it holds its write lock: after a million-canary snapshot, eight
// of them in a row kept every log append waiting 215 ms (strace of the leader). Moving a
// file into the trash is a rename, which costs microseconds; the file's blocks are then
// freed by truncating it step by step with pauses, so that a log fsync never queues
// behind more than one step. RocksDB's DeleteScheduler works the same way.
type trash struct {
	dir    string
	logger *slog.Logger

	mu      sync.Mutex
	queue   []string
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	next    atomic.Uint64 // names files uniquely within this process
	stopped sync.Once
}

const (
	trashDirName = "trash"
	// trashStep is how much of a file is freed at a time, and trashPause how long the
	// deleter waits between steps: at 8 MiB per 10 ms, a 64 MB segment is gone in 80 ms
	// and a 260 MB snapshot in about 0.3 s.
	trashStep  = 8 << 20
	trashPause = 10 * time.Millisecond
)

// openTrash creates <dataDir>/trash and starts the deleter on whatever an earlier run
// left in it.
func openTrash(dataDir string, logger *slog.Logger) (*trash, error) {
	t := &trash{
		dir:    filepath.Join(dataDir, trashDirName),
		logger: logger,
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if err := os.MkdirAll(t.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", t.dir, err)
	}
	left, err := os.ReadDir(t.dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.dir, err)
	}
	for _, e := range left {
		t.queue = append(t.queue, filepath.Join(t.dir, e.Name()))
	}
	// run takes from the queue before it first waits for a wake-up, so what an earlier
	// run left needs no signal; t.queue belongs to run (under mu) from here on, and
	// reading it here without mu was a data race.
	go t.run()
	return t, nil
}

// discard moves the file at path into the trash, to be deleted in the background. If
// it cannot be moved (another file system), it is deleted at once. The rename is not
// fsynced: if a crash undoes it, the file is back where it was, and its owner deleted it
// only after it stopped needing it (raft-wal removes segments it no longer lists when it
// opens; a snapshot without meta.json is not listed).
func (t *trash) discard(path string) error {
	dst := filepath.Join(t.dir, strconv.FormatInt(time.Now().UnixNano(), 36)+"-"+
		strconv.FormatUint(t.next.Add(1), 36)+"-"+filepath.Base(path))
	err := os.Rename(path, dst)
	if errors.Is(err, os.ErrNotExist) {
		if _, statErr := os.Lstat(path); statErr != nil {
			return err // the file is gone
		}
		// The trash directory is: make it again.
		if mkErr := os.MkdirAll(t.dir, 0o700); mkErr == nil {
			err = os.Rename(path, dst)
		}
	}
	if err != nil {
		t.logger.Warn("cannot move a file into the trash: deleting it at once", "path", path, "err", err)
		return os.Remove(path)
	}
	t.mu.Lock()
	t.queue = append(t.queue, dst)
	t.mu.Unlock()
	t.signal()
	return nil
}

func (t *trash) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// close stops the deleter after the step it is taking; what is left is deleted by the
// next openTrash.
func (t *trash) close() {
	t.stopped.Do(func() { close(t.stop) })
	<-t.done
}

func (t *trash) run() {
	defer close(t.done)
	for {
		t.mu.Lock()
		var path string
		if len(t.queue) > 0 {
			path, t.queue = t.queue[0], t.queue[1:]
		}
		t.mu.Unlock()
		if path == "" {
			select {
			case <-t.wake:
				continue
			case <-t.stop:
				return
			}
		}
		if err := t.delete(path); err != nil {
			if errors.Is(err, errTrashStopped) {
				return
			}
			t.logger.Warn("deleting a file from the trash failed", "path", path, "err", err)
		}
	}
}

var errTrashStopped = errors.New("trash closed")

// delete frees path trashStep bytes at a time from its end, then removes it.
func (t *trash) delete(path string) error {
	info, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if info.IsDir() {
		return os.RemoveAll(path)
	}
	for size := info.Size(); size > trashStep; {
		size -= trashStep
		if err := os.Truncate(path, size); err != nil {
			return err
		}
		select {
		case <-time.After(trashPause):
		case <-t.stop:
			return errTrashStopped
		}
	}
	return os.Remove(path)
}
