package cluster

import (
	"slices"
	"strings"

	"github.com/hashicorp/raft"
)

// Status is a node's view of the cluster, for operators.
type Status struct {
	NodeID         string   `json:"node_id"`
	State          string   `json:"state"` // leader, follower, candidate or shutdown
	LeaderID       string   `json:"leader_id"`
	LeaderHTTPAddr string   `json:"leader_http_addr"`
	Term           uint64   `json:"term"`
	CommitIndex    uint64   `json:"commit_index"`
	AppliedIndex   uint64   `json:"applied_index"`
	LastLogIndex   uint64   `json:"last_log_index"`
	Ready          bool     `json:"ready"`
	Members        []Member `json:"members"`
}

// Member is one server as known from the Raft configuration and gossip.
type Member struct {
	ID         string `json:"id"`
	RaftAddr   string `json:"raft_addr"`
	HTTPAddr   string `json:"http_addr"`
	GossipAddr string `json:"gossip_addr"`
	// GossipState is alive, dead (failed) or left (announced its leave);
	// unknown for a Raft server gossip has not told this node about.
	// memberlist does not expose suspicion, so "suspect" never appears.
	GossipState string `json:"gossip_state"`
	Voter       bool   `json:"voter"`
	Leader      bool   `json:"leader"`
	Version     string `json:"version"`
}

// Status reports this node's Raft state and every member it knows of, from
// the Raft configuration and from gossip, sorted by id.
func (n *Node) Status() Status {
	st := Status{NodeID: n.id, State: "shutdown"}
	if n.isShutdown() {
		return st
	}
	st.State = strings.ToLower(n.raft.State().String())
	st.LeaderID = n.LeaderID()
	st.LeaderHTTPAddr = n.LeaderHTTPAddr()
	st.Term = n.raft.CurrentTerm()
	st.CommitIndex = n.raft.CommitIndex()
	st.AppliedIndex = n.raft.AppliedIndex()
	st.LastLogIndex = n.raft.LastIndex()
	st.Ready = n.Ready()
	st.Members = n.memberList(st.LeaderID)
	return st
}

func (n *Node) memberList(leaderID string) []Member {
	byID := make(map[string]*Member)
	get := func(id string) *Member {
		m, ok := byID[id]
		if !ok {
			m = &Member{ID: id, GossipState: gossipUnknown}
			byID[id] = m
		}
		return m
	}

	for _, info := range n.members.list() {
		m := get(info.ID)
		m.GossipAddr = info.GossipAddr
		m.GossipState = info.State
		if info.MetaOK {
			m.RaftAddr, m.HTTPAddr, m.Version = info.Meta.RaftAddr, info.Meta.HTTPAddr, info.Meta.Version
		}
	}
	self := get(n.id)
	if self.GossipState != gossipLeft {
		self.GossipState = gossipAlive
	}
	self.RaftAddr, self.HTTPAddr, self.Version = n.advertise, n.httpAddr, n.cfg.Version
	self.GossipAddr = n.GossipAddr()

	servers, _ := n.configuration()
	for _, s := range servers {
		m := get(string(s.ID))
		m.Voter = s.Suffrage == raft.Voter
		if m.RaftAddr == "" {
			m.RaftAddr = string(s.Address)
		}
	}
	if leaderID != "" {
		get(leaderID).Leader = true
	}

	out := make([]Member, 0, len(byID))
	for _, m := range byID {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return out
}
