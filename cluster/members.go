package cluster

import (
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Gossip states as reported in Status.
const (
	gossipAlive = "alive"
	gossipDead  = "dead"
	gossipLeft  = "left"
	// gossipUnknown: a Raft server this node has no gossip news of.
	gossipUnknown = "unknown"
)

// memberInfo is one gossip member as last heard of.
type memberInfo struct {
	ID         string
	GossipAddr string
	Meta       memberMeta
	MetaOK     bool // Meta decoded; without it the member cannot be a server
	State      string
	Since      time.Time // when State last changed
}

// memberTable remembers every member gossip has told us about, including
// the dead and the departed that memberlist itself forgets after a while:
// the leader needs them to reconcile the Raft configuration, and the
// reconnect loop to heal partitions.
//
// memberlist calls the Notify methods with its own locks held: they must
// not block nor call back into memberlist.
type memberTable struct {
	logger  *slog.Logger
	mu      sync.Mutex
	byID    map[string]*memberInfo
	changed chan struct{} // capacity 1: "something changed since you looked"
	now     func() time.Time
}

var _ memberlist.EventDelegate = (*memberTable)(nil)

func newMemberTable(logger *slog.Logger) *memberTable {
	return &memberTable{
		logger:  logger,
		byID:    make(map[string]*memberInfo),
		changed: make(chan struct{}, 1),
		now:     time.Now,
	}
}

func (t *memberTable) NotifyJoin(n *memberlist.Node)   { t.record(n, true) }
func (t *memberTable) NotifyUpdate(n *memberlist.Node) { t.record(n, true) }
func (t *memberTable) NotifyLeave(n *memberlist.Node)  { t.record(n, false) }

// record notes what memberlist told us. A member that announced it is
// leaving counts as left from then on; one that vanished without saying so
// has failed.
func (t *memberTable) record(n *memberlist.Node, reachable bool) {
	meta, err := decodeMeta(n.Meta)
	if err != nil {
		t.logger.Warn("ignoring member with unreadable metadata", "member", n.Name, "addr", n.Address(), "err", err)
	}
	state := gossipAlive
	switch {
	case err == nil && meta.Leaving:
		state = gossipLeft
	case !reachable:
		state = gossipDead
	}

	t.mu.Lock()
	m, known := t.byID[n.Name]
	if !known {
		m = &memberInfo{ID: n.Name}
		t.byID[n.Name] = m
	}
	previous := m.State
	m.GossipAddr = n.Address()
	m.Meta, m.MetaOK = meta, err == nil
	if previous != state {
		m.State = state
		m.Since = t.now()
	}
	t.mu.Unlock()

	if previous != state {
		t.logger.Info("cluster member "+stateVerb(state), "member", n.Name, "gossip_addr", n.Address(), "raft_addr", meta.RaftAddr)
	}
	t.signal()
}

func stateVerb(state string) string {
	switch state {
	case gossipAlive:
		return "is alive"
	case gossipDead:
		return "failed"
	case gossipLeft:
		return "left"
	}
	return "is " + state
}

// signal wakes whoever waits on changed, without blocking.
func (t *memberTable) signal() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// get returns a copy of one member.
func (t *memberTable) get(id string) (memberInfo, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.byID[id]
	if !ok {
		return memberInfo{}, false
	}
	return *m, true
}

// list returns copies of every member, sorted by id.
func (t *memberTable) list() []memberInfo {
	t.mu.Lock()
	out := make([]memberInfo, 0, len(t.byID))
	for _, m := range t.byID {
		out = append(out, *m)
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b memberInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// forget drops members that have been in state (dead or left) for longer
// than after, except those keepID says are still needed (Raft servers).
func (t *memberTable) forget(state string, after time.Duration, keepID func(string) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, m := range t.byID {
		if m.State == state && t.now().Sub(m.Since) > after && !keepID(id) {
			delete(t.byID, id)
		}
	}
}
