package fsm

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/google/btree"
	"github.com/hashicorp/raft"
)

// A snapshot is a magic string and format version, a header, the canaries in id order and
// the outbox in sequence order, in the binary encoding of codec.go: stable (two replicas
// with the same state write the same bytes) and streamed (a million canaries never sit in
// one buffer).
var snapshotMagic = []byte("coal-mine snapshot\n")

const snapshotFormat = 2

type snapshot struct {
	canaries *btree.BTreeG[*Canary]
	outbox   []Notification
	nextSeq  uint64
	clock    time.Time
}

// Persist writes the snapshot to the sink.
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.encode(sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release is a no-op: the snapshot holds only immutable data.
func (s *snapshot) Release() {}

// encode writes the snapshot to w.
func (s *snapshot) encode(w io.Writer) error {
	e := &encoder{w: bufio.NewWriterSize(w, 1<<20), buf: make([]byte, 0, 4096)}
	slices.SortFunc(s.outbox, func(a, b Notification) int { return cmp.Compare(a.Seq, b.Seq) })
	e.buf = append(e.buf, snapshotMagic...)
	e.uvarint(snapshotFormat)
	e.uvarint(s.nextSeq)
	e.time(s.clock)
	e.uvarint(uint64(s.canaries.Len()))
	e.uvarint(uint64(len(s.outbox)))
	if err := e.flush(); err != nil {
		return err
	}
	var err error
	s.canaries.Ascend(func(c *Canary) bool {
		e.canary(c)
		err = e.flush()
		return err == nil
	})
	if err != nil {
		return err
	}
	for i := range s.outbox {
		e.notification(&s.outbox[i])
		if err := e.flush(); err != nil {
			return err
		}
	}
	return e.w.Flush()
}

type state struct {
	canaries *btree.BTreeG[*Canary]
	slugs    map[string]string
	outbox   map[uint64]Notification
	nextSeq  uint64
	clock    time.Time
}

func decodeSnapshot(r io.Reader) (*state, error) {
	d := &decoder{r: bufio.NewReaderSize(r, 1<<20)}
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(d.r, magic); err != nil || !bytes.Equal(magic, snapshotMagic) {
		return nil, fmt.Errorf("restore snapshot: not a coal-mine snapshot")
	}
	if v := d.uvarint(); d.e == nil && v != snapshotFormat {
		return nil, fmt.Errorf("restore snapshot: unknown format %d", v)
	}
	st := &state{canaries: newTree(), nextSeq: d.uvarint(), clock: d.time()}
	nCanaries, nOutbox := d.uvarint(), d.uvarint()
	if d.e != nil {
		return nil, fmt.Errorf("restore snapshot: header: %w", d.e)
	}
	st.slugs = make(map[string]string, min(nCanaries, 1<<24))
	st.outbox = make(map[uint64]Notification, min(nOutbox, 1<<20))
	for i := uint64(0); i < nCanaries; i++ {
		c := d.canary()
		if d.e != nil {
			return nil, fmt.Errorf("restore snapshot: canary %d: %w", i, d.e)
		}
		st.canaries.ReplaceOrInsert(c)
		st.slugs[c.Slug] = c.ID
	}
	for i := uint64(0); i < nOutbox; i++ {
		n := d.notification()
		if d.e != nil {
			return nil, fmt.Errorf("restore snapshot: notification %d: %w", i, d.e)
		}
		st.outbox[n.Seq] = n
	}
	return st, nil
}
