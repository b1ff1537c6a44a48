package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// recorder keeps every operation of every client.
type recorder struct {
	mu  sync.Mutex
	ops []Op
}

func (r *recorder) add(op Op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	op.Seq = int64(len(r.ops) + 1)
	r.ops = append(r.ops, op)
}

func (r *recorder) all() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Op(nil), r.ops...)
}

// writeJSONL saves the operations, one JSON object a line, for a look after the run.
func writeJSONL[T any](path string, items []T) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for i := range items {
		if err := enc.Encode(&items[i]); err != nil {
			f.Close()
			return fmt.Errorf("save %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("save %s: %w", path, err)
	}
	return f.Close()
}
