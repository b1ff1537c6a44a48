package fsm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestHistoryKeepsEveryEntry(t *testing.T) {
	tests := []struct {
		name    string
		entries []HistoryEntry
	}{
		{"empty", nil},
		{"the state machine's comments", []HistoryEntry{
			NewHistoryEntry(t0, createdComment), NewHistoryEntry(t0.Add(time.Minute), triggerComment),
			NewHistoryEntry(t0.Add(2*time.Minute), pauseComment), NewHistoryEntry(t0.Add(3*time.Minute), unpauseComment),
		}},
		{"users' comments", []HistoryEntry{
			NewHistoryEntry(t0, "Triggered (nightly backup)"), NewHistoryEntry(t0, "Triggered (ünïcode ✓)"),
			NewHistoryEntry(t0, "Triggered ("+strings.Repeat("x", maxCommentBytes)+")"),
		}},
		{"an empty comment", []HistoryEntry{{Micros: t0.UnixMicro()}}},
		{"times before 1970 and at the epoch", []HistoryEntry{{Micros: -86_400_000_000, Comment: "Triggered"}, {Micros: 0, Comment: "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHistory(tt.entries...)
			// A snapshot writes a canary's history from its packed bytes; the bytes
			// must be those of the entries written one by one, the format snapshots have
			// always had.
			var packed, entryByEntry encoder
			packed.packedHistory(h)
			entryByEntry.history(h.Len(), h.All())
			if !bytes.Equal(packed.buf, entryByEntry.buf) {
				t.Errorf("snapshot encoding from the packed bytes %x, entry by entry %x", packed.buf, entryByEntry.buf)
			}
			if h.Len() != len(tt.entries) {
				t.Errorf("Len() = %d, want %d", h.Len(), len(tt.entries))
			}
			if got := h.Entries(); !(len(got) == 0 && len(tt.entries) == 0) && !reflect.DeepEqual(got, tt.entries) {
				t.Errorf("Entries() = %v, want %v", got, tt.entries)
			}
			last, ok := h.Last()
			if ok != (len(tt.entries) > 0) || ok && last != tt.entries[len(tt.entries)-1] {
				t.Errorf("Last() = %v, %v", last, ok)
			}
			data, err := json.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			var back History
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back.Entries(), h.Entries()) {
				t.Errorf("JSON round trip: %s came back as %v", data, back.Entries())
			}
		})
	}
}

// The Raft log holds imports written before histories were packed: the JSON form must
// not change.
func TestHistoryReadsTheLogsJSON(t *testing.T) {
	var h History
	if err := json.Unmarshal([]byte(`[{"t":1795000000000000,"c":"Canary created"},{"t":1795000060000000,"c":"Triggered (x)"}]`), &h); err != nil {
		t.Fatal(err)
	}
	want := []HistoryEntry{{1795000000000000, "Canary created"}, {1795000060000000, "Triggered (x)"}}
	if !reflect.DeepEqual(h.Entries(), want) {
		t.Errorf("got %v, want %v", h.Entries(), want)
	}
	data, _ := json.Marshal(h)
	if string(data) != `[{"t":1795000000000000,"c":"Canary created"},{"t":1795000060000000,"c":"Triggered (x)"}]` {
		t.Errorf("written back as %s", data)
	}
}

func TestHistoryAddPrunesByTheOriginalsRule(t *testing.T) {
	minutes := func(n int) History {
		var h History
		for i := 0; i < n; i++ {
			h = h.add(t0.Add(time.Duration(i)*time.Minute), fmt.Sprint(i))
		}
		return h
	}
	tests := []struct {
		name       string
		history    History
		at         time.Time
		wantLen    int
		wantOldest string
	}{
		{"below the cap", minutes(10), t0.Add(time.Hour), 11, "0"},
		{"at the cap the oldest goes", minutes(historyMax), t0.Add(time.Hour * 24), historyMax, "1"},
		{"a week later only the newest 100 stay", minutes(500), t0.Add(8 * 24 * time.Hour), historyKeep, "401"},
		{"a week later 100 or fewer all stay", minutes(50), t0.Add(8 * 24 * time.Hour), 51, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.history.add(tt.at, "new")
			if h.Len() != tt.wantLen {
				t.Fatalf("Len() = %d, want %d", h.Len(), tt.wantLen)
			}
			entries := h.Entries()
			if entries[0].Comment != tt.wantOldest || entries[len(entries)-1].Comment != "new" {
				t.Errorf("oldest %q newest %q, want %q and \"new\"", entries[0].Comment, entries[len(entries)-1].Comment, tt.wantOldest)
			}
		})
	}
}

// Histories are shared by the canaries a reader may still hold: adding must not change
// what an earlier History shows.
func TestHistoryAddLeavesTheOriginalAlone(t *testing.T) {
	var h History
	for i := 0; i < historyMax; i++ {
		h = h.add(t0.Add(time.Duration(i)*time.Second), triggerComment)
	}
	before := h.Entries()
	for i := 0; i < 300; i++ { // through pruning and growth
		next := h.add(t0.Add(time.Hour+time.Duration(i)*time.Second), fmt.Sprintf("Triggered (%d)", i))
		if !reflect.DeepEqual(h.Entries(), before) {
			t.Fatalf("after %d adds the original history changed", i+1)
		}
		h, before = next, next.Entries()
	}
}

// Import compares canaries with reflect.DeepEqual: a history built entry by entry must
// equal one built at once from the same entries.
func TestHistoryEncodingIsCanonical(t *testing.T) {
	var added History
	for i := 0; i < historyMax+50; i++ {
		added = added.add(t0.Add(time.Duration(i)*time.Minute), triggerComment)
	}
	packed := NewHistory(added.Entries()...)
	if !reflect.DeepEqual(added, packed) {
		t.Error("the same entries packed two ways differ")
	}
}

// Newest steps over the older entries without decoding them: it must land on the same
// entries as decoding them all, whatever mix of coded and spelled-out comments is before.
func TestNewestIsTheTailOfNewestFirst(t *testing.T) {
	var entries []HistoryEntry
	for i := range 12 {
		comment := triggerComment
		switch i % 4 {
		case 1:
			comment = fmt.Sprintf("Triggered (run %d)", i)
		case 2:
			comment = ""
		case 3:
			comment = strings.Repeat("é", 200) // a length over one varint byte
		}
		entries = append(entries, NewHistoryEntry(t0.Add(time.Duration(i)*time.Minute), comment))
	}
	h := NewHistory(entries...)
	for _, n := range []int{-1, 0, 1, 3, 11, 12, 20} {
		want := h.NewestFirst()[:max(0, min(n, h.Len()))]
		if got := h.Newest(n); !reflect.DeepEqual(got, want) && (len(got) > 0 || len(want) > 0) {
			t.Errorf("Newest(%d) = %v, want %v", n, got, want)
		}
	}
}
