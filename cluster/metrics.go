package cluster

import (
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector returns the node's Raft and membership figures as Prometheus metrics, read
// when scraped. Alert on coal_mine_raft_leader summed over the cluster being 0, on
// coal_mine_ready being 0, on coal_mine_raft_last_contact_seconds growing, and on
// coal_mine_cluster_members{state="failed"} above 0.
func (n *Node) Collector() prometheus.Collector { return nodeCollector{n} }

type nodeCollector struct{ n *Node }

var (
	descLeader      = prometheus.NewDesc("coal_mine_raft_leader", "1 if this node is the Raft leader and has established its term, else 0.", nil, nil)
	descState       = prometheus.NewDesc("coal_mine_raft_state", "1 for this node's Raft state (leader, follower, candidate, shutdown).", []string{"state"}, nil)
	descTerm        = prometheus.NewDesc("coal_mine_raft_term", "The current Raft term.", nil, nil)
	descCommit      = prometheus.NewDesc("coal_mine_raft_commit_index", "The highest log index known to be committed.", nil, nil)
	descApplied     = prometheus.NewDesc("coal_mine_raft_applied_index", "The highest log index handed to the state machine.", nil, nil)
	descLastLog     = prometheus.NewDesc("coal_mine_raft_last_log_index", "The last index in this node's log.", nil, nil)
	descLastContact = prometheus.NewDesc("coal_mine_raft_last_contact_seconds", "Seconds since a follower last heard from the leader (0 on the leader; absent before any contact).", nil, nil)
	descVoters      = prometheus.NewDesc("coal_mine_raft_voters", "Voters in the Raft configuration.", nil, nil)
	descMembers     = prometheus.NewDesc("coal_mine_cluster_members", "Gossip members this node knows of, by state (alive, failed, left).", []string{"state"}, nil)
	descReady       = prometheus.NewDesc("coal_mine_ready", "1 if this node knows a leader and has applied what it committed (what /readyz answers 200 for).", nil, nil)
)

func (nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLeader, descState, descTerm, descCommit, descApplied, descLastLog, descLastContact, descVoters, descMembers, descReady} {
		ch <- d
	}
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descReady, boolFloat(n.Ready()))
	state := "shutdown"
	if !n.isShutdown() {
		state = raftStateName(n.raft.State())
	}
	for _, s := range []string{"leader", "follower", "candidate", "shutdown"} {
		gauge(descState, boolFloat(s == state), s)
	}
	if n.isShutdown() {
		gauge(descLeader, 0)
		return
	}
	gauge(descLeader, boolFloat(n.leaderEstablished()))
	gauge(descTerm, float64(n.raft.CurrentTerm()))
	gauge(descCommit, float64(n.raft.CommitIndex()))
	gauge(descApplied, float64(n.raft.AppliedIndex()))
	gauge(descLastLog, float64(n.raft.LastIndex()))
	if n.IsLeader() {
		gauge(descLastContact, 0)
	} else if last := n.raft.LastContact(); !last.IsZero() {
		gauge(descLastContact, time.Since(last).Seconds())
	}
	if servers, err := n.configuration(); err == nil {
		voters := 0
		for _, s := range servers {
			if s.Suffrage == raft.Voter {
				voters++
			}
		}
		gauge(descVoters, float64(voters))
	}
	counts := map[string]int{"alive": 1} // this node
	for _, m := range n.members.list() {
		if m.ID == n.id {
			continue
		}
		switch m.State {
		case gossipAlive:
			counts["alive"]++
		case gossipDead:
			counts["failed"]++
		case gossipLeft:
			counts["left"]++
		}
	}
	for _, s := range []string{"alive", "failed", "left"} {
		gauge(descMembers, float64(counts[s]), s)
	}
}

func raftStateName(s raft.RaftState) string {
	switch s {
	case raft.Leader:
		return "leader"
	case raft.Follower:
		return "follower"
	case raft.Candidate:
		return "candidate"
	}
	return "shutdown"
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
