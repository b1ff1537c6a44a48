package alerting

import "time"

// entry is one watched canary in the deadline heap. Every node keeps one per watched
// canary, a million of them in a large cluster: times are Unix microseconds (the
// precision of every stored time) rather than time.Time, which makes an entry 48 bytes
// instead of 80.
type entry struct {
	id       string
	deadline int64 // the canary's deadline, sent in MarkLate
	due      int64 // when to propose: the deadline, or later after failed proposals
	attempts int32 // failed proposals since the deadline was last set
	index    int32 // position in the heap, kept by the heap
}

func newEntry(id string, deadline time.Time) entry {
	return entry{id: id, deadline: deadline.UnixMicro(), due: deadline.UnixMicro()}
}

func (e *entry) deadlineTime() time.Time { return time.UnixMicro(e.deadline).UTC() }

func (e *entry) dueTime() time.Time { return time.UnixMicro(e.due).UTC() }

// deadlineHeap is a min-heap of entries ordered by due time, with an index by canary id
// so that an update or a removal costs O(log n) instead of a scan.
type deadlineHeap struct {
	items []*entry
	byID  map[string]*entry
}

func newDeadlineHeap() *deadlineHeap {
	return &deadlineHeap{byID: make(map[string]*entry)}
}

// build replaces the contents with deadlines in O(n).
func (h *deadlineHeap) build(entries []*entry) {
	h.items = entries
	h.byID = make(map[string]*entry, len(entries))
	for i, e := range entries {
		e.index = int32(i)
		h.byID[e.id] = e
	}
	for i := len(h.items)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *deadlineHeap) Len() int { return len(h.items) }

// peek returns the entry due first, or nil.
func (h *deadlineHeap) peek() *entry {
	if len(h.items) == 0 {
		return nil
	}
	return h.items[0]
}

// get returns the entry of a canary, or nil.
func (h *deadlineHeap) get(id string) *entry { return h.byID[id] }

// set inserts or moves the canary's entry to a new deadline, forgetting past failures.
func (h *deadlineHeap) set(id string, deadline time.Time) {
	e := newEntry(id, deadline)
	h.put(&e)
}

// put inserts e, replacing any entry of the same canary.
func (h *deadlineHeap) put(e *entry) {
	if old, ok := h.byID[e.id]; ok {
		old.deadline, old.due, old.attempts = e.deadline, e.due, e.attempts
		h.fix(int(old.index))
		return
	}
	e.index = int32(len(h.items))
	h.items = append(h.items, e)
	h.byID[e.id] = e
	h.up(int(e.index))
}

// remove drops the canary's entry if there is one.
func (h *deadlineHeap) remove(id string) {
	e, ok := h.byID[id]
	if !ok {
		return
	}
	i, last := int(e.index), len(h.items)-1
	if i != last {
		h.swap(i, last)
	}
	h.items[last] = nil
	h.items = h.items[:last]
	delete(h.byID, id)
	if i < last {
		h.fix(i)
	}
}

// pop removes and returns the entry due first, or nil.
func (h *deadlineHeap) pop() *entry {
	e := h.peek()
	if e != nil {
		h.remove(e.id)
	}
	return e
}

func (h *deadlineHeap) less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if a.due != b.due {
		return a.due < b.due
	}
	return a.id < b.id
}

func (h *deadlineHeap) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index = int32(i)
	h.items[j].index = int32(j)
}

func (h *deadlineHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h *deadlineHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

// down sifts i towards the leaves and reports whether it moved.
func (h *deadlineHeap) down(i int) bool {
	start := i
	n := len(h.items)
	for {
		smallest := i
		if l := 2*i + 1; l < n && h.less(l, smallest) {
			smallest = l
		}
		if r := 2*i + 2; r < n && h.less(r, smallest) {
			smallest = r
		}
		if smallest == i {
			return i > start
		}
		h.swap(i, smallest)
		i = smallest
	}
}
