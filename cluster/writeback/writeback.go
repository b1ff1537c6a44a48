// Package writeback hands a file that is being written from start to end to the disk a
// window at a time, as it grows, instead of leaving all of it for one fsync at the end.
//
// An fsync of hundreds of megabytes keeps the disk busy for as long as it takes to
// write them, and every other fsync on that disk (a Raft log's, a few kilobytes) waits
// behind it: a 260 MB snapshot flushed at close held the log's fsyncs for 30 to 52 ms
// instead of under one. Handing each window to the disk as soon as it is written, and
// waiting for the window before it before going on, bounds what another fsync can queue
// behind to two windows. RocksDB's bytes_per_sync and Linux's own write-behind work the
// same way. Where sync_file_range(2) exists (Linux) the windows are written without
// flushing the device's cache; elsewhere each window is an fsync.
package writeback

import "os"

// Window is how much of a file is handed to the disk at a time: 8 MiB, about 8 ms of
// writing on this project's disk.
const Window = 8 << 20

// Writer tracks one file being written and flushes it window by window. It does not
// write: tell it what was written with Wrote. The final fsync is still the writer's.
type Writer struct {
	path    string   // opened at the first window, when file is nil
	file    *os.File // the file, or nil until opened by path
	own     bool     // file was opened here and is closed by Close
	written int64    // bytes written so far
	started int64    // bytes handed to the disk so far
	failed  bool     // the file could not be opened: the final fsync does it all
}

// ForFile flushes f, which the caller writes and closes.
func ForFile(f *os.File) *Writer { return &Writer{file: f} }

// ForPath flushes the file at path, written by someone who does not share its handle
// (raft's snapshot sink): it is opened read-only at the first window, since a flush
// applies to the file whichever descriptor asks for it. If it cannot be opened, nothing
// is flushed early.
func ForPath(path string) *Writer { return &Writer{path: path} }

// Wrote records n more bytes written at the end of the file and flushes every window
// that is complete.
func (w *Writer) Wrote(n int) {
	w.written += int64(n)
	for !w.failed && w.written-w.started >= Window {
		if w.file == nil {
			f, err := os.Open(w.path)
			if err != nil {
				w.failed = true
				return
			}
			w.file, w.own = f, true
		}
		// Errors mean only that a window was not flushed early: the final fsync is.
		_ = start(w.file, w.started, Window)
		if w.started >= Window {
			_ = wait(w.file, w.started-Window, Window)
		}
		w.started += Window
	}
}

// Close closes the file if ForPath opened it.
func (w *Writer) Close() {
	if w.own && w.file != nil {
		w.file.Close()
		w.file = nil
	}
}
