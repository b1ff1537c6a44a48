package writeback

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestWindows: a file written through a Writer, by handle or by path, holds what was
// written, whatever the sizes of the writes against the window.
func TestWindows(t *testing.T) {
	for _, byPath := range []bool{false, true} {
		for _, size := range []int{0, 1, Window - 1, Window, 3*Window + 17} {
			path := filepath.Join(t.TempDir(), "file")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			w := ForFile(f)
			if byPath {
				w = ForPath(path)
			}
			data := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
			for rest := data; len(rest) > 0; {
				n, err := f.Write(rest[:min(len(rest), 1<<20+3)])
				if err != nil {
					t.Fatal(err)
				}
				w.Wrote(n)
				rest = rest[n:]
			}
			if want := int64(size) / Window * Window; w.started != want && !w.failed {
				t.Errorf("by path %v, %d bytes: %d handed to the disk, want %d", byPath, size, w.started, want)
			}
			w.Close()
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("by path %v, %d bytes: read back %d bytes, %v", byPath, size, len(got), err)
			}
		}
	}
}

// TestMissingFile: a writer whose file cannot be opened by path only loses the early
// flushes, and creates nothing.
func TestMissingFile(t *testing.T) {
	w := ForPath(filepath.Join(t.TempDir(), "missing", "state.bin"))
	for range 5 {
		w.Wrote(Window)
	}
	w.Close()
	if !w.failed {
		t.Fatal("a missing file was flushed")
	}
	if _, err := os.Stat(w.path); !os.IsNotExist(err) {
		t.Fatalf("the writer created its file: %v", err)
	}
}
