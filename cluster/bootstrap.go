package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

const bootstrapPollInterval = 100 * time.Millisecond

// startBootstrap decides how this node gets its first Raft configuration:
//   - it has Raft state already: none needed, it rejoins as itself;
//   - a lone node (no gossip, or BootstrapExpect 1 and nothing to join):
//     it bootstraps itself now;
//   - otherwise a background loop waits for BootstrapExpect fresh servers to
//     agree (see tryBootstrap), or for a leader to add this node.
func (n *Node) startBootstrap(ctx context.Context) error {
	switch {
	case n.store.HasState():
		return nil
	case !n.cfg.gossipEnabled() || (n.cfg.BootstrapExpect <= 1 && len(n.cfg.Join) == 0):
		return n.bootstrap([]memberMeta{n.meta()})
	}
	n.wg.Add(1)
	go n.bootstrapLoop(ctx)
	return nil
}

// bootstrapLoop tries to bootstrap until this node has Raft state, from its
// own bootstrap or from a leader that added it. A node that bootstrapped
// keeps gossiping its proposal until the cluster has started (a leader
// wrote past the bootstrap entry), so the rest of the set can still
// bootstrap the same configuration; then it withdraws it, so that a server
// that comes back later with an empty disk waits to be replicated to instead.
func (n *Node) bootstrapLoop(ctx context.Context) {
	defer n.wg.Done()
	b := &bootstrapper{node: n, warned: make(map[string]bool)}
	for {
		switch last := n.raft.LastIndex(); {
		case last > 1:
			n.updateMeta(func(m *memberMeta) { m.HasState, m.Proposal = true, 0 })
			return
		case last == 0:
			b.try()
		}
		if !n.sleep(ctx, bootstrapPollInterval) {
			return
		}
	}
}

// bootstrapper holds what the loop remembers between attempts (so that each
// warning is logged once).
type bootstrapper struct {
	node   *Node
	warned map[string]bool
}

func (b *bootstrapper) logOnce(level slog.Level, key, msg string, args ...any) {
	if !b.warned[key] {
		b.warned[key] = true
		b.node.logger.Log(context.Background(), level, msg, args...)
	}
}

// try makes one bootstrap attempt.
//
// Fresh servers with the same BootstrapExpect N count each other. Once one
// sees at least N, it proposes the N lowest ids and gossips a hash of that
// set. A server in the set bootstraps only when every server of the set
// gossips the same hash: they all then bootstrap the identical
// configuration, which raft accepts, so any one of them is enough to start
// the cluster. Different views (more than N nodes started, gossip not
// converged) give different hashes, so nobody bootstraps until the views
// agree. A member that has Raft state but did not bootstrap this same set
// belongs to an existing cluster: then nobody bootstraps, and its leader
// adds the newcomers.
func (b *bootstrapper) try() {
	n := b.node
	if n.meta().HasState {
		return // bootstrapped already, waiting for the first leader
	}
	expect := n.cfg.BootstrapExpect
	if len(n.cfg.Join) > 0 && expect <= 1 && !n.joined.Load() {
		// A lone node told to join must not found a cluster of its own
		// before it has looked for one.
		return
	}

	candidates := []memberMeta{n.meta()}
	var established []memberMeta
	for _, m := range n.members.list() {
		if m.ID == n.id || m.State != gossipAlive || !m.MetaOK {
			continue
		}
		if m.Meta.HasState {
			established = append(established, m.Meta)
		}
		if m.Meta.Expect != expect {
			b.logOnce(slog.LevelWarn, "expect:"+m.ID, "member has a different bootstrap-expect; not counting it",
				"member", m.ID, "its_expect", m.Meta.Expect, "our_expect", expect)
			continue
		}
		candidates = append(candidates, m.Meta)
	}
	if len(candidates) < expect {
		n.updateMeta(func(m *memberMeta) { m.Proposal = 0 })
		return
	}

	slices.SortFunc(candidates, func(a, b memberMeta) int { return strings.Compare(a.ID, b.ID) })
	chosen := candidates[:expect]
	ids := make([]string, len(chosen))
	for i, m := range chosen {
		ids[i] = m.ID
	}
	proposal := proposalHash(ids)
	for _, m := range established {
		if m.Proposal != proposal {
			b.logOnce(slog.LevelInfo, "existing:"+m.ID, "found a server of an existing cluster; waiting for its leader to add this node", "member", m.ID)
			n.updateMeta(func(m *memberMeta) { m.Proposal = 0 })
			return
		}
	}
	n.updateMeta(func(m *memberMeta) { m.Proposal = proposal })
	if !slices.Contains(ids, n.id) {
		return // a later server: the leader will add it
	}
	for _, m := range chosen {
		if m.ID != n.id && m.Proposal != proposal {
			return // not everyone sees the same set yet
		}
	}
	if len(candidates) > expect {
		b.logOnce(slog.LevelInfo, "extra", "more servers than bootstrap-expect are up; bootstrapping the lowest ids, the leader will add the rest", "servers", ids)
	}
	if err := n.bootstrap(chosen); err != nil {
		n.logger.Error("bootstrap failed", "err", err)
	}
}

// bootstrap writes the first configuration with servers as voters. Raft
// refuses (ErrCantBootstrap) if this node already has state, e.g. because
// another server of the same set won an election first: that is fine.
func (n *Node) bootstrap(servers []memberMeta) error {
	var cfg raft.Configuration
	ids := make([]string, 0, len(servers))
	for _, s := range servers {
		if s.RaftAddr == "" {
			return fmt.Errorf("server %s gossips no raft address", s.ID)
		}
		cfg.Servers = append(cfg.Servers, raft.Server{
			Suffrage: raft.Voter,
			ID:       raft.ServerID(s.ID),
			Address:  raft.ServerAddress(s.RaftAddr),
		})
		ids = append(ids, s.ID)
	}
	err := n.raft.BootstrapCluster(cfg).Error()
	switch {
	case err == nil:
		n.logger.Info("bootstrapped new cluster", "voters", ids)
	case errors.Is(err, raft.ErrCantBootstrap):
		n.logger.Debug("bootstrap not needed: raft state already present")
	default:
		return fmt.Errorf("bootstrap: %w", err)
	}
	n.updateMeta(func(m *memberMeta) { m.HasState = true })
	return nil
}
