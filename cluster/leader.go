package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

const (
	reconcileInterval    = 5 * time.Second
	leaderBarrierTimeout = 30 * time.Second
	membershipTimeout    = 10 * time.Second
)

// monitorLeadership runs the leader loop while this node leads, and stops
// it as soon as leadership is lost (Consul's monitorLeadership, minus the
// RPC plumbing).
func (n *Node) monitorLeadership() {
	defer n.wg.Done()
	leaderCh, unsubscribe := n.leadership.subscribe()
	defer unsubscribe()

	var running *leaderRun
	defer func() { running.stop() }()
	for {
		select {
		case leader, ok := <-leaderCh:
			switch {
			case !ok:
				return
			case leader && running == nil:
				running = n.startLeaderLoop()
			case !leader:
				running.stop()
				running = nil
				n.established.Store(nil)
			}
		case <-n.stopCh:
			return
		}
	}
}

// leaderRun is one running leader loop.
type leaderRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// establishment is one term of this node's leadership as the leader loop takes it up:
// done is closed once a barrier has shown that every entry committed before the term
// began is applied here. Until then the state machine can lack writes that earlier
// terms acknowledged, and a read served from it would go back in time.
type establishment struct {
	term uint64
	done chan struct{}
}

func (n *Node) startLeaderLoop() *leaderRun {
	ctx, cancel := context.WithCancel(context.Background())
	run := &leaderRun{cancel: cancel, done: make(chan struct{})}
	est := &establishment{term: n.raft.CurrentTerm(), done: make(chan struct{})}
	n.established.Store(est)
	go func() {
		defer close(run.done)
		n.leaderLoop(ctx, est)
	}()
	return run
}

// leaderEstablished reports whether this node leads and has established its term.
func (n *Node) leaderEstablished() bool {
	est := n.established.Load()
	if est == nil || !n.IsLeader() || est.term != n.raft.CurrentTerm() {
		return false
	}
	select {
	case <-est.done:
		return true
	default:
		return false
	}
}

// waitEstablished waits until this node, as leader, has applied every entry that
// earlier terms committed. It fails with ErrNotLeader if the node does not lead, or
// leads in a term the leader loop has not taken up yet (callers retry).
func (n *Node) waitEstablished(ctx context.Context) error {
	est := n.established.Load()
	if est == nil {
		return fmt.Errorf("%w: leadership not yet taken up", ErrNotLeader)
	}
	select {
	case <-est.done:
	case <-ctx.Done():
		return fmt.Errorf("wait for the leader to apply earlier terms: %w", ctx.Err())
	case <-n.stopCh:
		return ErrShutdown
	}
	if n.raft.CurrentTerm() != est.term || !n.IsLeader() {
		return fmt.Errorf("%w: leadership changed", ErrNotLeader)
	}
	return nil
}

// stop ends the loop and waits for it; a nil run is not running.
func (r *leaderRun) stop() {
	if r != nil {
		r.cancel()
		<-r.done
	}
}

// leaderLoop: once a barrier shows our FSM and configuration are current, the term is
// established (consistent reads may be served), and Raft membership is reconciled with
// gossip now, on every membership change, and periodically.
func (n *Node) leaderLoop(ctx context.Context, est *establishment) {
	for {
		err := n.waitFuture(ctx, n.raft.Barrier(leaderBarrierTimeout))
		if err == nil {
			break
		}
		if ctx.Err() != nil || n.isShutdown() {
			return
		}
		n.logger.Warn("leader barrier failed", "err", err)
		if !n.sleep(ctx, time.Second) {
			return
		}
	}
	close(est.done)
	n.logger.Info("leadership established", "term", est.term)
	if n.gossip == nil {
		<-ctx.Done()
		return
	}

	r := &reconciler{node: n, ctx: ctx, missingSince: make(map[string]time.Time), quorumWarned: make(map[string]bool)}
	ticker := time.NewTicker(reconcileInterval)
	defer ticker.Stop()
	for {
		r.reconcile()
		select {
		case <-ctx.Done():
			return
		case <-n.members.changed:
		case <-ticker.C:
		}
	}
}

// reconciler brings the Raft configuration in line with gossip. It lives
// for one term of leadership.
type reconciler struct {
	node *Node
	ctx  context.Context // ends with the leadership
	// missingSince: when this leader first noticed a voter that gossip does
	// not know at all (e.g. it died before this leader started).
	missingSince map[string]time.Time
	// quorumWarned: failed voters we already said we will not remove.
	quorumWarned map[string]bool
}

func (r *reconciler) reconcile() {
	n := r.node
	future := n.raft.GetConfiguration()
	if err := future.Error(); err != nil {
		n.logger.Warn("reconcile: read raft configuration", "err", err)
		return
	}
	servers := make(map[string]raft.Server)
	for _, s := range future.Configuration().Servers {
		servers[string(s.ID)] = s
	}
	members := make(map[string]memberInfo)
	for _, m := range n.members.list() {
		members[m.ID] = m
	}

	for id, m := range members {
		if id == n.id || !m.MetaOK || m.Meta.RaftAddr == "" {
			continue
		}
		s, inConfig := servers[id]
		switch m.State {
		case gossipAlive:
			if !inConfig || s.Suffrage != raft.Voter || string(s.Address) != m.Meta.RaftAddr {
				r.addVoter(m)
			}
		case gossipLeft:
			if inConfig {
				r.remove(id, "left the cluster")
			}
		}
	}
	if n.cfg.DeadServerCleanup > 0 {
		r.removeOneDeadVoter(servers, members)
	}
}

func (r *reconciler) addVoter(m memberInfo) {
	n := r.node
	err := n.waitFuture(r.ctx, n.raft.AddVoter(raft.ServerID(m.ID), raft.ServerAddress(m.Meta.RaftAddr), 0, membershipTimeout))
	if err != nil {
		n.logger.Warn("reconcile: add voter", "member", m.ID, "err", err)
		return
	}
	n.logger.Info("added voter", "member", m.ID, "raft_addr", m.Meta.RaftAddr)
}

func (r *reconciler) remove(id, why string) {
	n := r.node
	if err := n.waitFuture(r.ctx, n.raft.RemoveServer(raft.ServerID(id), 0, membershipTimeout)); err != nil {
		n.logger.Warn("reconcile: remove server", "member", id, "err", err)
		return
	}
	n.logger.Info("removed server", "member", id, "reason", why)
}

// removeOneDeadVoter removes at most one voter that has been failed for
// longer than DeadServerCleanup, if that keeps a healthy quorum. One per
// round: the next round recounts with the new configuration.
func (r *reconciler) removeOneDeadVoter(servers map[string]raft.Server, members map[string]memberInfo) {
	n := r.node
	now := time.Now()
	var voterIDs []string
	for id, s := range servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		voterIDs = append(voterIDs, id)
		if _, known := members[id]; known {
			delete(r.missingSince, id)
		} else if _, seen := r.missingSince[id]; !seen {
			r.missingSince[id] = now
		}
	}
	states := make(map[string]memberInfo, len(voterIDs))
	for _, id := range voterIDs {
		if m, known := members[id]; known {
			states[id] = m
		} else {
			states[id] = memberInfo{ID: id, State: gossipUnknown, Since: r.missingSince[id]}
		}
	}

	victim, quorumKept := deadVoterToRemove(voterIDs, n.id, states, now, n.cfg.DeadServerCleanup)
	switch {
	case victim == "":
	case quorumKept:
		r.remove(victim, "failed for longer than dead-server cleanup")
	case !r.quorumWarned[victim]:
		r.quorumWarned[victim] = true
		n.logger.Warn("not removing failed voter: the rest would lack a healthy quorum", "member", victim)
	}
}

// deadVoterToRemove picks the voter (lowest id first) that has been failed,
// or unknown to gossip, for longer than after, and says whether removing it
// leaves a configuration whose healthy voters are still a majority.
func deadVoterToRemove(voters []string, self string, states map[string]memberInfo, now time.Time, after time.Duration) (victim string, quorumKept bool) {
	healthy := 0
	for _, id := range voters {
		m := states[id]
		switch {
		case id == self || m.State == gossipAlive:
			healthy++
		case (m.State == gossipDead || m.State == gossipUnknown) && now.Sub(m.Since) > after:
			if victim == "" || id < victim {
				victim = id
			}
		}
	}
	if victim == "" {
		return "", false
	}
	remaining := len(voters) - 1
	return victim, healthy >= remaining/2+1
}
