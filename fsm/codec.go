package fsm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"slices"
	"time"
)

// A compact binary encoding for snapshots: a million canaries must be written in a few
// seconds, and JSON spends most of that on reflection and quoting. Every value is
// written in a fixed order, so the same state always gives the same bytes.

// encoder appends values to a reusable buffer and flushes it to w per record.
type encoder struct {
	w   *bufio.Writer
	buf []byte
}

func (e *encoder) uvarint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }
func (e *encoder) varint(v int64)   { e.buf = binary.AppendVarint(e.buf, v) }
func (e *encoder) byte(b byte)      { e.buf = append(e.buf, b) }

func (e *encoder) string(s string) {
	e.uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) float(f float64) {
	e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(f))
}

// time writes microseconds since the Unix epoch; the zero time is written as a flag so
// that it survives the round trip as the zero time.
func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.byte(0)
		return
	}
	e.byte(1)
	e.varint(t.UnixMicro())
}

func (e *encoder) flush() error {
	_, err := e.w.Write(e.buf)
	e.buf = e.buf[:0]
	return err
}

func (e *encoder) canary(c *Canary) {
	e.string(c.ID)
	e.string(c.Name)
	e.string(c.Slug)
	e.string(c.Description)
	e.periodicity(c.Periodicity)
	e.strings(c.Emails)
	var flags byte
	if c.Late {
		flags |= 1
	}
	if c.Paused {
		flags |= 2
	}
	if c.Job != nil {
		flags |= 4
	}
	e.byte(flags)
	e.time(c.Deadline)
	e.packedHistory(c.History)
	if c.Job != nil {
		e.job(c.Job)
	}
}

// packedHistory writes a canary's history exactly as history does, straight from its
// packed bytes: a time is the same varint in both, and a comment is copied, never made
// into a string. In a snapshot of a million canaries with ten entries each, going
// through the entries took a third of the encoding.
func (e *encoder) packedHistory(h History) {
	e.uvarint(uint64(h.n))
	for b := h.packed; len(b) > 0; {
		_, n := binary.Varint(b)
		e.buf = append(e.buf, b[:n]...)
		code, m := binary.Uvarint(b[n:])
		b = b[n+m:]
		if comment, ok := codedComment(code); ok {
			e.string(comment)
			continue
		}
		length := int(code - literalComment)
		e.uvarint(uint64(length))
		e.buf = append(e.buf, b[:length]...)
		b = b[length:]
	}
}

func (e *encoder) periodicity(p Periodicity) {
	if p.IsSchedule() {
		e.byte(1)
		e.string(p.Schedule)
		return
	}
	e.byte(0)
	e.float(p.Seconds)
}

func (e *encoder) strings(ss []string) {
	e.uvarint(uint64(len(ss)))
	for _, s := range ss {
		e.string(s)
	}
}

// history writes n entries: a canary's packed history and a notification's slice of
// entries have the same form.
func (e *encoder) history(n int, entries iter.Seq[HistoryEntry]) {
	e.uvarint(uint64(n))
	for x := range entries {
		e.varint(x.Micros)
		e.string(x.Comment)
	}
}

func (e *encoder) notification(n *Notification) {
	e.uvarint(n.Seq)
	e.string(string(n.Kind))
	e.time(n.At)
	e.string(n.CanaryID)
	e.string(n.Name)
	e.strings(n.Emails)
	e.time(n.Deadline)
	e.history(len(n.History), slices.Values(n.History))
	e.varint(int64(n.ExitStatus))
	e.string(n.Channel)
}

// decoder reads what encoder wrote. The first error sticks; later reads return zero
// values, and err() reports it.
type decoder struct {
	format  uint64 // the snapshot's format: what a record holds
	r       *bufio.Reader
	e       error
	scratch []byte // reused by raw: a decoded string costs one allocation, not two
}

// maxDecodedLength caps any one string or list, so a corrupt snapshot fails cleanly
// instead of allocating without bound.
const maxDecodedLength = 64 << 20

var errCorrupt = errors.New("corrupt snapshot")

func (d *decoder) fail(err error) {
	if d.e == nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		d.e = err
	}
}

func (d *decoder) uvarint() uint64 {
	if d.e != nil {
		return 0
	}
	v, err := binary.ReadUvarint(d.r)
	if err != nil {
		d.fail(err)
	}
	return v
}

func (d *decoder) varint() int64 {
	if d.e != nil {
		return 0
	}
	v, err := binary.ReadVarint(d.r)
	if err != nil {
		d.fail(err)
	}
	return v
}

func (d *decoder) byte() byte {
	if d.e != nil {
		return 0
	}
	b, err := d.r.ReadByte()
	if err != nil {
		d.fail(err)
	}
	return b
}

func (d *decoder) length() int {
	n := d.uvarint()
	if n > maxDecodedLength {
		d.fail(fmt.Errorf("%w: length %d", errCorrupt, n))
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	return string(d.raw())
}

// raw reads a length-prefixed byte string into the scratch buffer, valid until the next
// call.
func (d *decoder) raw() []byte {
	n := d.length()
	if n == 0 || d.e != nil {
		return nil
	}
	if cap(d.scratch) < n {
		d.scratch = make([]byte, n)
	}
	b := d.scratch[:n]
	if _, err := io.ReadFull(d.r, b); err != nil {
		d.fail(err)
		return nil
	}
	return b
}

func (d *decoder) float() float64 {
	var b [8]byte
	if d.e != nil {
		return 0
	}
	if _, err := io.ReadFull(d.r, b[:]); err != nil {
		d.fail(err)
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b[:]))
}

func (d *decoder) time() time.Time {
	switch d.byte() {
	case 0:
		return time.Time{}
	case 1:
		return time.UnixMicro(d.varint()).UTC()
	default:
		d.fail(fmt.Errorf("%w: bad time flag", errCorrupt))
		return time.Time{}
	}
}

func (d *decoder) canary() *Canary {
	c := &Canary{
		ID:          d.string(),
		Name:        d.string(),
		Slug:        d.string(),
		Description: d.string(),
		Periodicity: d.periodicity(),
		Emails:      d.strings(),
	}
	flags := d.byte()
	if flags&^7 != 0 || (flags&4 != 0 && d.format < snapshotFormat) {
		d.fail(fmt.Errorf("%w: bad canary flags %#x", errCorrupt, flags))
	}
	c.Late, c.Paused = flags&1 != 0, flags&2 != 0
	c.Deadline = d.time()
	c.History = d.packedHistory()
	if flags&4 != 0 {
		c.Job = d.job()
	}
	return c
}

func (d *decoder) periodicity() Periodicity {
	switch d.byte() {
	case 0:
		return Periodicity{Seconds: d.float()}
	case 1:
		return Periodicity{Schedule: d.string()}
	default:
		d.fail(fmt.Errorf("%w: bad periodicity kind", errCorrupt))
		return Periodicity{}
	}
}

func (d *decoder) strings() []string {
	n := d.length()
	out := make([]string, 0, min(n, 1024))
	for i := 0; i < n && d.e == nil; i++ {
		out = append(out, d.string())
	}
	return out
}

func (d *decoder) history() []HistoryEntry {
	n := d.length()
	out := make([]HistoryEntry, 0, min(n, historyMax))
	for i := 0; i < n && d.e == nil; i++ {
		out = append(out, HistoryEntry{Micros: d.varint(), Comment: d.string()})
	}
	return out
}

// packedHistory reads what encoder.packedHistory wrote, packing it as it goes: no
// comment is allocated unless a user wrote it.
func (d *decoder) packedHistory() History {
	n := d.length()
	// Nine bytes is the size of a "Triggered" entry of this century.
	h := History{packed: make([]byte, 0, 9*min(n, historyMax))}
	for i := 0; i < n && d.e == nil; i++ {
		micros := d.varint()
		h = appendEntry(h, micros, d.raw())
	}
	return h
}

func (d *decoder) notification() Notification {
	n := Notification{
		Seq:      d.uvarint(),
		Kind:     Kind(d.string()),
		At:       d.time(),
		CanaryID: d.string(),
		Name:     d.string(),
		Emails:   d.strings(),
		Deadline: d.time(),
		History:  d.history(),
	}
	if d.format >= snapshotFormat {
		n.ExitStatus = int(d.varint())
		n.Channel = d.string()
	}
	return n
}
