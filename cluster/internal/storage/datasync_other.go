//go:build !linux

package storage

import "os"

// dataSync is an fsync where fdatasync(2) is not available.
func dataSync(f *os.File) error { return f.Sync() }

// renameNoReplace renames from to to, failing with an error wrapping os.ErrExist if to
// exists. raft-wal creates segments one at a time under its own lock, so nothing else
// creates to between the check and the rename.
func renameNoReplace(from, to string) error { return renameIfAbsent(from, to) }
