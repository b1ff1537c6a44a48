package cluster

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// logCache keeps the newest Raft log entries in memory so that the leader replicates
// them, and followers apply them, without reading the WAL back. It is raft.LogCache with
// a byte budget: raft's cache holds its last N entries whatever their size, and N
// entries of 1 MB imports held half a gigabyte on every node of a million-canary cluster.
// An entry that does not fit the budget is not cached; it is read from the WAL when it is
// needed, which is what happens to any entry older than the ring anyway.
type logCache struct {
	store  raft.LogStore
	budget int // bytes of entry data the cache may hold

	mu    sync.RWMutex
	ring  []*raft.Log
	bytes int // data bytes of the entries in ring

	stored atomic.Int64 // data bytes stored since the count was last taken
}

var _ raft.MonotonicLogStore = (*logCache)(nil)

func newLogCache(store raft.LogStore, entries, budget int) (*logCache, error) {
	if entries <= 0 || budget <= 0 {
		return nil, fmt.Errorf("log cache: %d entries, %d bytes: both must be positive", entries, budget)
	}
	return &logCache{store: store, budget: budget, ring: make([]*raft.Log, entries)}, nil
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
	for _, l := range logs {
		stored += entrySize(l)
	}
	c.stored.Add(int64(stored))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range logs {
		slot := &c.ring[l.Index%uint64(len(c.ring))]
		if *slot != nil {
			c.bytes -= entrySize(*slot)
			*slot = nil
		}
		if size := entrySize(l); c.bytes+size <= c.budget {
			*slot = l
			c.bytes += size
		}
	}
	return nil
}

func (c *logCache) FirstIndex() (uint64, error) { return c.store.FirstIndex() }

func (c *logCache) LastIndex() (uint64, error) { return c.store.LastIndex() }

// DeleteRange empties the cache: raft deletes a range to compact the log or to drop a
// conflicting suffix, and in the second case cached entries would be wrong.
func (c *logCache) DeleteRange(min, max uint64) error {
	c.mu.Lock()
	clear(c.ring)
	c.bytes = 0
	c.mu.Unlock()
	return c.store.DeleteRange(min, max)
}

func entrySize(l *raft.Log) int { return len(l.Data) + len(l.Extensions) }
