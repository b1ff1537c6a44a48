package storage

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// logCache keeps the newest Raft log entries in memory so that the leader replicates
// them, and followers apply them, without reading the WAL back. It is raft.LogCache
// except that it leaves out entries larger than maxEntry: raft's cache holds its last N
// entries whatever their size, and N entries of 1 MB imports held half a gigabyte on
// every node of a million-canary cluster. Entries of triggers are a few kilobytes; a big
// one is read from the WAL when it is needed, like any entry older than the ring.
type logCache struct {
	store    raft.LogStore
	maxEntry int // bytes of data of the largest entry cached

	mu   sync.RWMutex
	ring []*raft.Log

	stored atomic.Int64 // data bytes stored since the count was last taken
}

var _ raft.MonotonicLogStore = (*logCache)(nil)

func newLogCache(store raft.LogStore, entries, maxEntry int) (*logCache, error) {
	if entries <= 0 || maxEntry <= 0 {
		return nil, fmt.Errorf("log cache: %d entries of %d bytes: both must be positive", entries, maxEntry)
	}
	return &logCache{store: store, maxEntry: maxEntry, ring: make([]*raft.Log, entries)}, nil
}

// IsMonotonic passes on the store's answer: raft-wal requires raft to know it.
func (c *logCache) IsMonotonic() bool {
	m, ok := c.store.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

func (c *logCache) GetLog(index uint64, log *raft.Log) error {
	c.mu.RLock()
	cached := c.ring[index%uint64(len(c.ring))]
	c.mu.RUnlock()
	if cached != nil && cached.Index == index {
		*log = *cached
		return nil
	}
	return c.store.GetLog(index, log)
}

func (c *logCache) StoreLog(log *raft.Log) error {
	return c.StoreLogs([]*raft.Log{log})
}

// StoreLogs caches the entries only once the store has them: a cached entry is a
// durable one.
func (c *logCache) StoreLogs(logs []*raft.Log) error {
	if err := c.store.StoreLogs(logs); err != nil {
		return fmt.Errorf("store raft log entries: %w", err)
	}
	stored := 0
	c.mu.Lock()
	for _, l := range logs {
		size := entrySize(l)
		stored += size
		slot := &c.ring[l.Index%uint64(len(c.ring))]
		if size <= c.maxEntry {
			*slot = l
		} else {
			*slot = nil
		}
	}
	c.mu.Unlock()
	c.stored.Add(int64(stored))
	return nil
}

func (c *logCache) FirstIndex() (uint64, error) { return c.store.FirstIndex() }

func (c *logCache) LastIndex() (uint64, error) { return c.store.LastIndex() }

// DeleteRange drops the cached entries in the range: raft deletes a range to compact the
// log (the oldest entries) or to drop a conflicting suffix, whose cached entries would
// be wrong.
func (c *logCache) DeleteRange(min, max uint64) error {
	c.mu.Lock()
	for i, l := range c.ring {
		if l != nil && l.Index >= min && l.Index <= max {
			c.ring[i] = nil
		}
	}
	c.mu.Unlock()
	return c.store.DeleteRange(min, max)
}

func entrySize(l *raft.Log) int { return len(l.Data) + len(l.Extensions) }
