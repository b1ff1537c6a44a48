package fsm

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/google/btree"
	"github.com/hashicorp/raft"

	"github.com/coal-mine/coal-mine/fsm/schedule"
)

// A snapshot is a magic string and format version, a header, the canaries in id order and
// the outbox in sequence order, in the binary encoding of codec.go: stable (two replicas
// with the same state write the same bytes) and streamed (a million canaries never sit in
// one buffer).
var snapshotMagic = []byte("coal-mine snapshot\n")

// snapshotFormat 3 added the canaries' Job and a failure's exit status; format 2 is
// still read. Format 4 adds the voters reported down; it is written only when there are
// some, so that a cluster that has never reported one still writes what a node of the
// previous release reads.
const (
	snapshotFormat    = 3
	oldSnapshotFormat = 2
	reportsFormat     = 4
)

type snapshot struct {
	channels []*Channel     // in name order
	down     []memberReport // in id order
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
	format := uint64(snapshotFormat)
	if len(s.down) > 0 {
		format = reportsFormat
	}
	e.uvarint(format)
	e.uvarint(s.nextSeq)
	e.time(s.clock)
	e.uvarint(uint64(s.canaries.Len()))
	e.uvarint(uint64(len(s.outbox)))
	e.uvarint(uint64(len(s.channels)))
	if format >= reportsFormat {
		e.uvarint(uint64(len(s.down)))
	}
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
	for _, ch := range s.channels {
		e.channel(ch)
		if err := e.flush(); err != nil {
			return err
		}
	}
	for _, r := range s.down {
		e.string(r.id)
		e.time(r.since)
	}
	if err := e.flush(); err != nil {
		return err
	}
	return e.w.Flush()
}

type state struct {
	canaries *btree.BTreeG[*Canary]
	slugs    map[string]string
	outbox   map[uint64]Notification
	channels map[string]*Channel
	down     map[string]time.Time
	nextSeq  uint64
	clock    time.Time
}

func decodeSnapshot(r io.Reader) (*state, error) {
	d := &decoder{r: bufio.NewReaderSize(r, 1<<20)}
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(d.r, magic); err != nil || !bytes.Equal(magic, snapshotMagic) {
		return nil, fmt.Errorf("restore snapshot: not a coal-mine snapshot")
	}
	d.format = d.uvarint()
	if d.e == nil && d.format != reportsFormat && d.format != snapshotFormat && d.format != oldSnapshotFormat {
		return nil, fmt.Errorf("restore snapshot: unknown format %d", d.format)
	}
	st := &state{canaries: newTree(), nextSeq: d.uvarint(), clock: d.time()}
	nCanaries, nOutbox := d.uvarint(), d.uvarint()
	var nChannels, nDown uint64
	if d.format >= snapshotFormat {
		nChannels = d.uvarint()
	}
	if d.format >= reportsFormat {
		nDown = d.uvarint()
	}
	if d.e != nil {
		return nil, fmt.Errorf("restore snapshot: header: %w", d.e)
	}
	st.slugs = make(map[string]string, min(nCanaries, 1<<24))
	st.outbox = make(map[uint64]Notification, min(nOutbox, 1<<20))
	prev := ""
	for i := uint64(0); i < nCanaries; i++ {
		c := d.canary()
		if d.e != nil {
			return nil, fmt.Errorf("restore snapshot: canary %d: %w", i, d.e)
		}
		// The encoder writes canaries in id order: a repeated id would replace one
		// silently and leave its slug pointing at the other.
		if i > 0 && c.ID <= prev {
			return nil, fmt.Errorf("restore snapshot: %w: canary %q after %q: ids out of order or repeated", errCorrupt, c.ID, prev)
		}
		prev = c.ID
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
	st.channels = make(map[string]*Channel, min(nChannels, maxChannels))
	for i := uint64(0); i < nChannels; i++ {
		ch := d.channel()
		if d.e != nil {
			return nil, fmt.Errorf("restore snapshot: channel %d: %w", i, d.e)
		}
		if err := validateChannel(ch); err != nil {
			return nil, fmt.Errorf("restore snapshot: %w: channel %q: %w", errCorrupt, ch.Name, err)
		}
		if _, dup := st.channels[ch.Name]; dup {
			return nil, fmt.Errorf("restore snapshot: %w: channel %q twice", errCorrupt, ch.Name)
		}
		st.channels[ch.Name] = ch
	}
	st.down = make(map[string]time.Time, min(nDown, maxReportedDown))
	for i := uint64(0); i < nDown; i++ {
		id, since := d.string(), d.time()
		if d.e != nil {
			return nil, fmt.Errorf("restore snapshot: member report %d: %w", i, d.e)
		}
		if _, dup := st.down[id]; dup || len(id) > maxNameLength || !utf8.ValidString(id) || len(st.down) >= maxReportedDown {
			return nil, fmt.Errorf("restore snapshot: %w: member report %d", errCorrupt, i)
		}
		st.down[id] = since
	}
	// The encoder writes nothing after the outbox: more bytes mean the counts above are
	// wrong, so what was decoded is not what was written.
	if _, err := d.r.ReadByte(); err != io.EOF {
		if err == nil {
			err = fmt.Errorf("%w: data after the last record", errCorrupt)
		}
		return nil, fmt.Errorf("restore snapshot: %w", err)
	}
	return st, nil
}

// ValidateSnapshot decodes a snapshot completely, as Restore would, into a scratch state
// that is then dropped, and checks what Restore and the leader's timers take for
// granted. The state machine is not touched. cluster.Node.Restore calls it on a backup
// before raft installs it, because raft panics when the FSM fails to restore a snapshot
// it has installed: a backup that passes here restores.
func (f *FSM) ValidateSnapshot(r io.Reader) error {
	st, err := decodeSnapshot(r)
	if err != nil {
		return err
	}
	if err := st.validate(); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	return nil
}

// validate checks the invariants a state built by Apply always has. It is stricter than
// Restore, which reads back this node's own snapshots, but not stricter than Apply has
// ever been: a backup of any earlier state passes (periodicities are checked for what
// deadline arithmetic needs, not against the limits create and update set).
func (st *state) validate() error {
	if st.nextSeq == 0 {
		return fmt.Errorf("%w: next notification sequence is 0", errCorrupt)
	}
	var err error
	st.canaries.Ascend(func(c *Canary) bool {
		err = validateSnapshotCanary(c)
		return err == nil
	})
	if err != nil {
		return err
	}
	if len(st.slugs) != st.canaries.Len() {
		return fmt.Errorf("%w: %d canaries but %d distinct slugs", errCorrupt, st.canaries.Len(), len(st.slugs))
	}
	for _, n := range st.outbox {
		switch {
		case n.Seq == 0 || n.Seq >= st.nextSeq:
			return fmt.Errorf("%w: notification sequence %d outside 1-%d", errCorrupt, n.Seq, st.nextSeq-1)
		case n.Kind != KindLate && n.Kind != KindResumed && n.Kind != KindFailed && n.Kind != KindOverran && n.Kind != KindOutage && n.Kind != KindRepeat && !n.Kind.admin():
			return fmt.Errorf("%w: notification %d of unknown kind %q", errCorrupt, n.Seq, n.Kind)
		case !validID(n.CanaryID) && !((n.Kind == KindOutage || n.Kind.admin()) && n.CanaryID == ""):
			return fmt.Errorf("%w: notification %d for canary id %q", errCorrupt, n.Seq, n.CanaryID)
		}
	}
	return nil
}

// validateSnapshotCanary checks one decoded canary.
func validateSnapshotCanary(c *Canary) error {
	p := c.Periodicity
	if c.Job != nil {
		if _, err := normalizeImportedJob(c.Job); err != nil {
			return fmt.Errorf("%w: canary %s: %w", errCorrupt, c.ID, err)
		}
		if c.Job.Cron != "" {
			return nil // a cron canary has no periodicity
		}
	}
	switch {
	case !validID(c.ID):
		return fmt.Errorf("%w: canary id %q", errCorrupt, c.ID)
	case c.Name == "" || !utf8.ValidString(c.Name) || c.Slug == "":
		return fmt.Errorf("%w: canary %s has an empty or malformed name or slug", errCorrupt, c.ID)
	case p.IsSchedule():
		if err := schedule.Validate(p.Schedule); err != nil {
			return fmt.Errorf("%w: canary %s: schedule: %w", errCorrupt, c.ID, err)
		}
	case math.IsNaN(p.Seconds) || p.Seconds <= 0 || p.Seconds > maxPeriodicitySeconds:
		return fmt.Errorf("%w: canary %s: periodicity %v seconds", errCorrupt, c.ID, p.Seconds)
	}
	return nil
}
