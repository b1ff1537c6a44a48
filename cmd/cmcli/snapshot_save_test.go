package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/coal-mine/coal-mine/cluster/writeback"
)

// A backup larger than the flush interval arrives whole, and only once complete.
func TestSaveStreamWritesTheWholeBackup(t *testing.T) {
	tests := []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"smaller than one flush", 1000},
		{"several flushes and a remainder", 2*writeback.Window + 12345},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := make([]byte, tt.size)
			for i := range want {
				want[i] = byte(i % 251)
			}
			path := filepath.Join(t.TempDir(), "backup.snap")
			n, err := saveStream(path, func(w io.Writer) (int64, error) {
				return io.CopyBuffer(w, bytes.NewReader(want), make([]byte, 1<<20))
			})
			if err != nil || n != int64(tt.size) {
				t.Fatalf("saveStream = %d, %v; want %d bytes", n, err, tt.size)
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("the saved file differs from what was sent (%d of %d bytes, %v)", len(got), tt.size, err)
			}
		})
	}
}

func TestSaveStreamLeavesNothingOnFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "backup.snap")
	_, err := saveStream(path, func(w io.Writer) (int64, error) {
		n, _ := w.Write(make([]byte, writeback.Window+1))
		return int64(n), errors.New("connection reset")
	})
	if err == nil {
		t.Fatal("saveStream succeeded although the download failed")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed backup left %d files behind", len(entries))
	}
}
