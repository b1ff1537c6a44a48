package alerting

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// drain pops every entry and returns the ids in pop order.
func drain(h *deadlineHeap) []string {
	var ids []string
	for e := h.pop(); e != nil; e = h.pop() {
		ids = append(ids, e.id)
	}
	return ids
}

func TestHeapOrder(t *testing.T) {
	tests := []struct {
		name string
		ops  func(h *deadlineHeap)
		want []string
	}{
		{"insert out of order", func(h *deadlineHeap) {
			h.set("c", epoch.Add(3*time.Second))
			h.set("a", epoch.Add(1*time.Second))
			h.set("b", epoch.Add(2*time.Second))
		}, []string{"a", "b", "c"}},
		{"equal deadlines by id", func(h *deadlineHeap) {
			h.set("b", epoch)
			h.set("a", epoch)
		}, []string{"a", "b"}},
		{"update moves later", func(h *deadlineHeap) {
			h.set("a", epoch.Add(1*time.Second))
			h.set("b", epoch.Add(2*time.Second))
			h.set("a", epoch.Add(3*time.Second))
		}, []string{"b", "a"}},
		{"update moves earlier", func(h *deadlineHeap) {
			h.set("a", epoch.Add(1*time.Second))
			h.set("b", epoch.Add(2*time.Second))
			h.set("b", epoch)
		}, []string{"b", "a"}},
		{"remove the first", func(h *deadlineHeap) {
			h.set("a", epoch.Add(1*time.Second))
			h.set("b", epoch.Add(2*time.Second))
			h.set("c", epoch.Add(3*time.Second))
			h.remove("a")
		}, []string{"b", "c"}},
		{"remove the middle and an unknown id", func(h *deadlineHeap) {
			h.set("a", epoch.Add(1*time.Second))
			h.set("b", epoch.Add(2*time.Second))
			h.set("c", epoch.Add(3*time.Second))
			h.remove("b")
			h.remove("zzz")
		}, []string{"a", "c"}},
		{"retry due later than its deadline", func(h *deadlineHeap) {
			h.set("a", epoch.Add(1*time.Second))
			h.set("b", epoch.Add(2*time.Second))
			retry := newEntry("a", epoch.Add(1*time.Second))
			retry.due, retry.attempts = epoch.Add(5*time.Second).UnixMicro(), 1
			h.put(&retry)
		}, []string{"b", "a"}},
		{"build", func(h *deadlineHeap) {
			h.build([]*entry{
				{id: "c", due: epoch.Add(3 * time.Second).UnixMicro()},
				{id: "b", due: epoch.Add(2 * time.Second).UnixMicro()},
				{id: "a", due: epoch.Add(1 * time.Second).UnixMicro()},
			})
		}, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newDeadlineHeap()
			tt.ops(h)
			if got := drain(h); !slices.Equal(got, tt.want) {
				t.Errorf("pop order = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestHeapMatchesModel runs random sets and removes against a map and checks that the
// heap pops in the model's sorted order.
func TestHeapMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	h := newDeadlineHeap()
	model := make(map[string]time.Time)
	for range 5000 {
		id := fmt.Sprintf("c%03d", rng.IntN(300))
		if rng.IntN(4) == 0 {
			h.remove(id)
			delete(model, id)
			continue
		}
		at := epoch.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
		h.set(id, at)
		model[id] = at
	}
	if h.Len() != len(model) {
		t.Fatalf("heap holds %d, model %d", h.Len(), len(model))
	}
	for id, at := range model {
		if e := h.get(id); e == nil || !e.deadlineTime().Equal(at) {
			t.Fatalf("get(%s) = %v, want deadline %v", id, e, at)
		}
	}
	want := make([]string, 0, len(model))
	for id := range model {
		want = append(want, id)
	}
	slices.SortFunc(want, func(a, b string) int {
		if c := model[a].Compare(model[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	if got := drain(h); !slices.Equal(got, want) {
		t.Fatalf("pop order differs from the model:\n got %v\nwant %v", got, want)
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		want    time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {9, 256 * time.Second}, {10, 5 * time.Minute}, {100, 5 * time.Minute}}
	for _, tt := range tests {
		if got := backoff(tt.attempt, time.Second, 5*time.Minute); got != tt.want {
			t.Errorf("backoff(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
}

func BenchmarkHeapSet(b *testing.B) {
	h := newDeadlineHeap()
	ids := make([]string, 100_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%07d", i)
		h.set(ids[i], epoch.Add(time.Duration(i)*time.Millisecond))
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		h.set(ids[i%len(ids)], epoch.Add(time.Duration(i)*time.Second))
	}
}
