//go:build !linux

package cluster

import "os"

// dataSync is an fsync where fdatasync(2) is not available.
func dataSync(f *os.File) error { return f.Sync() }
