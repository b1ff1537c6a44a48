package fsm

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/google/btree"
	"github.com/hashicorp/raft"
)

// Snapshots are a header line followed by one JSON line per canary (id order) and per
// outbox record (sequence order): a stable encoding, so two replicas with the same state
// write the same bytes, and a stream, so a million canaries never sit in one buffer.
const snapshotFormat = 1

type snapshotHeader struct {
	Format   int       `json:"format"`
	NextSeq  uint64    `json:"next_seq"`
	Clock    time.Time `json:"clock"`
	Canaries int       `json:"canaries"`
	Outbox   int       `json:"outbox"`
}

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
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	slices.SortFunc(s.outbox, func(a, b Notification) int { return cmpUint(a.Seq, b.Seq) })
	hdr := snapshotHeader{Format: snapshotFormat, NextSeq: s.nextSeq, Clock: s.clock, Canaries: s.canaries.Len(), Outbox: len(s.outbox)}
	if err := enc.Encode(hdr); err != nil {
		return err
	}
	var err error
	s.canaries.Ascend(func(c *Canary) bool {
		err = enc.Encode(c)
		return err == nil
	})
	if err != nil {
		return err
	}
	for i := range s.outbox {
		if err := enc.Encode(&s.outbox[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

type state struct {
	canaries *btree.BTreeG[*Canary]
	slugs    map[string]string
	outbox   map[uint64]Notification
	nextSeq  uint64
	clock    time.Time
}

func decodeSnapshot(r io.Reader) (*state, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	var hdr snapshotHeader
	if err := dec.Decode(&hdr); err != nil {
		return nil, fmt.Errorf("restore snapshot: read header: %w", err)
	}
	if hdr.Format != snapshotFormat {
		return nil, fmt.Errorf("restore snapshot: unknown format %d", hdr.Format)
	}
	st := &state{
		canaries: newTree(),
		slugs:    make(map[string]string, hdr.Canaries),
		outbox:   make(map[uint64]Notification, hdr.Outbox),
		nextSeq:  hdr.NextSeq,
		clock:    hdr.Clock,
	}
	for i := 0; i < hdr.Canaries; i++ {
		c := new(Canary)
		if err := dec.Decode(c); err != nil {
			return nil, fmt.Errorf("restore snapshot: canary %d: %w", i, err)
		}
		st.canaries.ReplaceOrInsert(c)
		st.slugs[c.Slug] = c.ID
	}
	for i := 0; i < hdr.Outbox; i++ {
		var n Notification
		if err := dec.Decode(&n); err != nil {
			return nil, fmt.Errorf("restore snapshot: notification %d: %w", i, err)
		}
		st.outbox[n.Seq] = n
	}
	return st, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
