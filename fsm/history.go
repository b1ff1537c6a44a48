package fsm

import (
	"encoding/binary"
	"encoding/json"
	"iter"
	"slices"
	"time"
)

// HistoryEntry is one event in a canary's history. The time is kept as microseconds, the
// precision of every stored timestamp.
type HistoryEntry struct {
	Micros  int64  `json:"t"` // since the Unix epoch, UTC
	Comment string `json:"c"`
}

// NewHistoryEntry records comment at t.
func NewHistoryEntry(t time.Time, comment string) HistoryEntry {
	return HistoryEntry{Micros: t.UnixMicro(), Comment: comment}
}

// Time is when the event happened, in UTC.
func (h HistoryEntry) Time() time.Time { return time.UnixMicro(h.Micros).UTC() }

// History is a canary's history, oldest first, packed into one byte slice: each entry is
// its time as a zigzag varint, then its comment as a varint code (one of the comments the
// state machine writes itself) or a length and the bytes. A million canaries with ten
// entries each hold ten million entries: as a []HistoryEntry that was 240 bytes and ten
// pointers per canary for the garbage collector to trace; packed, "Triggered" costs 9
// bytes and the slice holds no pointer at all.
//
// A History is immutable like the Canary that holds it: adding an entry returns a new
// History, which may share the bytes of the old one but never changes what it shows.
// The encoding is canonical (equal entries, equal bytes), so reflect.DeepEqual compares
// histories by content.
type History struct {
	packed []byte
	n      int // entries in packed
}

// Comment codes. Codes at or above literalComment are literalComment plus the length of
// a comment spelled out after the code.
const (
	emptyComment = iota
	triggeredCode
	createdCode
	pausedCode
	unpausedCode
	literalComment
)

// NewHistory packs entries in the order given (oldest first, for a canary's).
func NewHistory(entries ...HistoryEntry) History {
	size := 0
	for _, e := range entries {
		size += packedSize(e.Micros, e.Comment)
	}
	h := History{packed: make([]byte, 0, size)}
	for _, e := range entries {
		h = appendEntry(h, e.Micros, e.Comment)
	}
	return h
}

// Len is the number of entries.
func (h History) Len() int { return h.n }

// All yields the entries oldest first.
func (h History) All() iter.Seq[HistoryEntry] {
	return func(yield func(HistoryEntry) bool) {
		for b := h.packed; len(b) > 0; {
			e, size := decodeEntry(b)
			if !yield(e) {
				return
			}
			b = b[size:]
		}
	}
}

// Entries returns the entries oldest first.
func (h History) Entries() []HistoryEntry {
	out := make([]HistoryEntry, 0, h.n)
	for e := range h.All() {
		out = append(out, e)
	}
	return out
}

// NewestFirst returns the entries newest first, as the API and e-mails show them.
func (h History) NewestFirst() []HistoryEntry {
	out := h.Entries()
	slices.Reverse(out)
	return out
}

// Newest returns the newest n entries (all if there are fewer), newest first. Every
// notification carries a few: the older entries are stepped over, not decoded, since
// a history holds up to a thousand and a storm builds ten thousand notifications.
func (h History) Newest(n int) []HistoryEntry {
	n = max(0, min(n, h.n))
	b := h.packed
	for range h.n - n {
		b = b[entrySize(b):]
	}
	out := make([]HistoryEntry, n)
	for i := n - 1; i >= 0; i-- {
		e, size := decodeEntry(b)
		out[i] = e
		b = b[size:]
	}
	return out
}

// entrySize is how many bytes the entry at the start of b takes.
func entrySize(b []byte) int {
	_, n := binary.Varint(b)
	code, m := binary.Uvarint(b[n:])
	if code >= literalComment {
		return n + m + int(code-literalComment)
	}
	return n + m
}

// Last is the newest entry; ok is false for an empty history.
func (h History) Last() (e HistoryEntry, ok bool) {
	for e = range h.All() {
		ok = true
	}
	return e, ok
}

// first is the oldest entry and the bytes it takes.
func (h History) first() (HistoryEntry, int) { return decodeEntry(h.packed) }

// add appends an entry and prunes by the original's rule (more than historyMax entries,
// or more than historyKeep with the oldest older than a week), evaluated at the command's
// time so that every replica prunes the same entries.
func (h History) add(at time.Time, comment string) History {
	h = appendEntry(h, at.UnixMicro(), comment)
	weekAgo := at.Add(-historyMaxAge).UnixMicro()
	for h.n > historyKeep {
		oldest, size := h.first()
		if h.n <= historyMax && oldest.Micros >= weekAgo {
			break
		}
		h.packed, h.n = h.packed[size:], h.n-1
	}
	return h
}

// appendEntry adds an entry. It writes into spare capacity when there is some: the History it
// was called on shows only its own length, so it is not changed. It grows the slice by a
// quarter instead of doubling it: histories are long-lived and most stop growing, so the
// slack of doubling would be memory held for nothing.
func appendEntry[T string | []byte](h History, micros int64, comment T) History {
	if size := packedSize(micros, comment); len(h.packed)+size > cap(h.packed) {
		grown := make([]byte, len(h.packed), len(h.packed)+len(h.packed)/4+size)
		copy(grown, h.packed)
		h.packed = grown
	}
	code := commentCode(comment)
	h.packed = binary.AppendUvarint(binary.AppendVarint(h.packed, micros), code)
	if code >= literalComment {
		h.packed = append(h.packed, comment...)
	}
	h.n++
	return h
}

// packedSize is how many bytes append writes for the entry.
func packedSize[T string | []byte](micros int64, comment T) int {
	var head [2 * binary.MaxVarintLen64]byte
	code := commentCode(comment)
	size := len(binary.AppendUvarint(binary.AppendVarint(head[:0], micros), code))
	if code >= literalComment {
		size += len(comment)
	}
	return size
}

func commentCode[T string | []byte](comment T) uint64 {
	switch string(comment) {
	case "":
		return emptyComment
	case triggerComment:
		return triggeredCode
	case createdComment:
		return createdCode
	case pauseComment:
		return pausedCode
	case unpauseComment:
		return unpausedCode
	}
	return literalComment + uint64(len(comment))
}

// decodeEntry reads the entry at the start of b, which append wrote.
func decodeEntry(b []byte) (HistoryEntry, int) {
	micros, n := binary.Varint(b)
	code, m := binary.Uvarint(b[n:])
	size := n + m
	e := HistoryEntry{Micros: micros}
	if comment, ok := codedComment(code); ok {
		e.Comment = comment
	} else {
		length := int(code - literalComment)
		e.Comment = string(b[size : size+length])
		size += length
	}
	return e, size
}

// codedComment is the comment a code below literalComment stands for.
func codedComment(code uint64) (string, bool) {
	switch code {
	case emptyComment:
		return "", true
	case triggeredCode:
		return triggerComment, true
	case createdCode:
		return createdComment, true
	case pausedCode:
		return pauseComment, true
	case unpausedCode:
		return unpauseComment, true
	}
	return "", false
}

// MarshalJSON writes the entries as a list, oldest first: the form Raft log entries of
// imports have always had.
func (h History) MarshalJSON() ([]byte, error) { return json.Marshal(h.Entries()) }

// UnmarshalJSON reads what MarshalJSON wrote.
func (h *History) UnmarshalJSON(data []byte) error {
	var entries []HistoryEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		return err
	}
	*h = NewHistory(entries...)
	return nil
}
