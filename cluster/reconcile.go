package cluster

import (
	"context"
	"time"

	"github.com/hashicorp/raft"
)

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
