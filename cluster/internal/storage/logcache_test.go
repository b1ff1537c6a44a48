package storage

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hashicorp/raft"
)

// countingStore counts the reads that reach the store behind the cache.
type countingStore struct {
	*raft.InmemStore
	reads   int
	failing bool
}

func (s *countingStore) GetLog(index uint64, log *raft.Log) error {
	s.reads++
	return s.InmemStore.GetLog(index, log)
}

func (s *countingStore) StoreLogs(logs []*raft.Log) error {
	if s.failing {
		return errors.New("disk full")
	}
	return s.InmemStore.StoreLogs(logs)
}

func sizedEntries(first uint64, sizes ...int) []*raft.Log {
	logs := make([]*raft.Log, len(sizes))
	for i, size := range sizes {
		index := first + uint64(i)
		logs[i] = &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: bytes.Repeat([]byte{byte(index)}, size)}
	}
	return logs
}

func TestLogCacheKeepsTheNewestSmallEntries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		entries, max   int
		sizes          []int // of entries 1, 2, ...
		wantStoreReads int   // reading every entry back once
	}{
		{"small entries come from memory", 8, 1000, []int{100, 100, 100}, 0},
		{"an entry larger than the limit is read back", 8, 1000, []int{100, 5000, 100}, 1},
		{"big entries do not keep newer small ones out", 8, 1000, []int{5000, 5000, 5000, 10, 10, 10, 10, 10}, 3},
		{"the ring keeps only its newest entries", 2, 1000, []int{10, 10, 10, 10}, 2},
		{"a big entry clears its slot", 2, 1000, []int{10, 10, 5000}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &countingStore{InmemStore: raft.NewInmemStore()}
			cache, err := newLogCache(store, tt.entries, tt.max)
			if err != nil {
				t.Fatal(err)
			}
			logs := sizedEntries(1, tt.sizes...)
			for _, l := range logs { // one at a time, as a follower stores them
				if err := cache.StoreLogs([]*raft.Log{l}); err != nil {
					t.Fatal(err)
				}
			}
			for _, want := range logs {
				var got raft.Log
				if err := cache.GetLog(want.Index, &got); err != nil {
					t.Fatalf("GetLog(%d): %v", want.Index, err)
				}
				if !bytes.Equal(got.Data, want.Data) {
					t.Errorf("GetLog(%d) returned the wrong data", want.Index)
				}
			}
			if store.reads != tt.wantStoreReads {
				t.Errorf("%d reads reached the store, want %d", store.reads, tt.wantStoreReads)
			}
		})
	}
}

func TestLogCacheForgetsDeletedEntries(t *testing.T) {
	t.Parallel()
	store := &countingStore{InmemStore: raft.NewInmemStore()}
	cache, err := newLogCache(store, 8, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := cache.StoreLogs(sizedEntries(1, 10, 10, 10)); err != nil {
		t.Fatal(err)
	}
	// A new leader overwrites a conflicting suffix: index 3 now holds other data.
	if err := cache.DeleteRange(3, 3); err != nil {
		t.Fatal(err)
	}
	replacement := &raft.Log{Index: 3, Term: 2, Type: raft.LogCommand, Data: []byte("term 2")}
	if err := store.StoreLogs([]*raft.Log{replacement}); err != nil {
		t.Fatal(err)
	}
	var got raft.Log
	if err := cache.GetLog(3, &got); err != nil {
		t.Fatal(err)
	}
	if got.Term != 2 || string(got.Data) != "term 2" {
		t.Errorf("GetLog(3) = term %d %q, want the replacement", got.Term, got.Data)
	}
	// Compaction drops the oldest entries; the newer ones stay in memory.
	store.reads = 0
	if err := cache.DeleteRange(1, 1); err != nil {
		t.Fatal(err)
	}
	if err := cache.GetLog(2, &got); err != nil || store.reads != 0 {
		t.Errorf("after compacting entry 1, entry 2: %v, %d store reads, want it from memory", err, store.reads)
	}
}

func TestLogCacheCachesOnlyStoredEntries(t *testing.T) {
	t.Parallel()
	store := &countingStore{InmemStore: raft.NewInmemStore(), failing: true}
	cache, err := newLogCache(store, 8, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := cache.StoreLogs(sizedEntries(1, 10)); err == nil {
		t.Fatal("StoreLogs succeeded on a failing store")
	}
	var got raft.Log
	if err := cache.GetLog(1, &got); !errors.Is(err, raft.ErrLogNotFound) {
		t.Errorf("GetLog of an entry that was never stored: %v, want ErrLogNotFound", err)
	}
}
