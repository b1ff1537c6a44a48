package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
)

// memberMeta is what a node gossips about itself in memberlist's node
// metadata (at most memberlist.MetaMaxSize bytes, hence the compact encoding).
type memberMeta struct {
	ID       string
	RaftAddr string
	HTTPAddr string
	Version  string
	// Expect is the node's BootstrapExpect; only nodes that agree on it
	// bootstrap together.
	Expect int
	// HasState: the node already belongs to a Raft cluster, so nobody who
	// sees it should bootstrap a new one.
	HasState bool
	// Leaving: the node is leaving gracefully. memberlist does not tell
	// its event delegate whether a node left or died, so nodes say so here
	// first (as serf does with its leave intent).
	Leaving bool
	// Proposal is a hash of the set of ids the node would bootstrap with
	// (0: none yet). Nodes bootstrap only when the whole set agrees.
	Proposal uint64
}

const (
	metaFormatV1     byte = 1
	metaFlagHasState      = 1 << 0
	metaFlagLeaving       = 1 << 1
)

// encode lays the metadata out as: format, flags, uvarint expect, 8-byte
// proposal, then four uvarint-length-prefixed strings.
func (m memberMeta) encode() []byte {
	buf := make([]byte, 0, 16+len(m.ID)+len(m.RaftAddr)+len(m.HTTPAddr)+len(m.Version)+4*binary.MaxVarintLen16)
	var flags byte
	if m.HasState {
		flags |= metaFlagHasState
	}
	if m.Leaving {
		flags |= metaFlagLeaving
	}
	buf = append(buf, metaFormatV1, flags)
	buf = binary.AppendUvarint(buf, uint64(m.Expect))
	buf = binary.BigEndian.AppendUint64(buf, m.Proposal)
	for _, s := range []string{m.ID, m.RaftAddr, m.HTTPAddr, m.Version} {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	return buf
}

var errShortMeta = errors.New("truncated member metadata")

// decodeMeta parses what encode wrote. Unknown trailing bytes are ignored so
// a later format can append fields.
func decodeMeta(b []byte) (memberMeta, error) {
	var m memberMeta
	if len(b) < 2 {
		return m, errShortMeta
	}
	if b[0] != metaFormatV1 {
		return m, fmt.Errorf("member metadata format %d not understood", b[0])
	}
	m.HasState = b[1]&metaFlagHasState != 0
	m.Leaving = b[1]&metaFlagLeaving != 0
	b = b[2:]
	expect, n := binary.Uvarint(b)
	if n <= 0 {
		return m, errShortMeta
	}
	m.Expect = int(expect)
	b = b[n:]
	if len(b) < 8 {
		return m, errShortMeta
	}
	m.Proposal = binary.BigEndian.Uint64(b)
	b = b[8:]
	for _, field := range []*string{&m.ID, &m.RaftAddr, &m.HTTPAddr, &m.Version} {
		size, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < size {
			return m, errShortMeta
		}
		*field = string(b[n : n+int(size)])
		b = b[n+int(size):]
	}
	return m, nil
}

// proposalHash names a set of server ids independently of order. It is never
// 0, which means "no proposal".
func proposalHash(ids []string) uint64 {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	h := fnv.New64a()
	for _, id := range sorted {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	if sum := h.Sum64(); sum != 0 {
		return sum
	}
	return 1
}
