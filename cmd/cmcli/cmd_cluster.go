package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/spf13/cobra"
)

// Cluster operations: the coal-mine daemon's extensions to the Coal Mine API.

func newClusterCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "cluster",
		Short:   "Show and change the cluster's membership and leadership",
		GroupID: groupCluster,
		Example: "  cmcli cluster status\n  cmcli cluster transfer-leader --id node2\n  cmcli cluster remove-peer --id node3",
	}
	cmd.AddCommand(newClusterStatusCmd(a), newRemovePeerCmd(a), newTransferLeaderCmd(a))
	return cmd
}

// clusterStatus is GET /coal-mine/v1/cluster/status.
type clusterStatus struct {
	NodeID         string          `json:"node_id"`
	State          string          `json:"state"`
	LeaderID       string          `json:"leader_id"`
	LeaderHTTPAddr string          `json:"leader_http_addr"`
	Term           uint64          `json:"term"`
	CommitIndex    uint64          `json:"commit_index"`
	AppliedIndex   uint64          `json:"applied_index"`
	LastLogIndex   uint64          `json:"last_log_index"`
	Members        []clusterMember `json:"members"`
}

type clusterMember struct {
	ID          string `json:"id"`
	RaftAddr    string `json:"raft_addr"`
	HTTPAddr    string `json:"http_addr"`
	GossipAddr  string `json:"gossip_addr"`
	GossipState string `json:"gossip_state"`
	Voter       bool   `json:"voter"`
	Leader      bool   `json:"leader"`
	Version     any    `json:"version"`
}

// memberQueryTimeout bounds asking each member for its own view: a node that is
// down must not make `cluster status` hang.
const memberQueryTimeout = 3 * time.Second

func newClusterStatusCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show every node: role, leader, term, log indexes, gossip health",
		Long: `Show the cluster as the server sees it. The readable view also asks every member
for its own term and indexes (members it cannot reach show "-"); --json prints the
answer of the server contacted, unchanged.`,
		Example: "  cmcli cluster status\n  cmcli cluster status --host https://node2.example.com --json",
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			client, err := a.connection(cmd)
			if err != nil {
				return err
			}
			ctx, cancel := a.requestContext(cmd)
			defer cancel()
			body, err := client.Do(ctx, apiRequest{path: clusterAPI + "status"})
			if err != nil {
				return err
			}
			p := a.printer(client, false)
			if p.mode == outputJSON {
				return p.printJSON(body)
			}
			var status clusterStatus
			if err := json.Unmarshal(body, &status); err != nil {
				return fmt.Errorf("decoding the cluster status: %w", err)
			}
			views := memberViews(ctx, client, status)
			p.printClusterStatus(status, views)
			return nil
		}),
	}
}

// memberView is one member's own status, or why it could not be had.
type memberView struct {
	status *clusterStatus
	err    error
}

// memberViews asks each member other than the one that answered for its status.
func memberViews(ctx context.Context, client *Client, answered clusterStatus) map[string]memberView {
	views := map[string]memberView{answered.NodeID: {status: &answered}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range answered.Members {
		if m.ID == answered.NodeID || m.HTTPAddr == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			view := fetchMemberStatus(ctx, client, m.HTTPAddr)
			mu.Lock()
			views[m.ID] = view
			mu.Unlock()
		}()
	}
	wg.Wait()
	return views
}

func fetchMemberStatus(ctx context.Context, client *Client, httpAddr string) memberView {
	ctx, cancel := context.WithTimeout(ctx, memberQueryTimeout)
	defer cancel()
	member := newClient(memberURL(client.base, httpAddr), client.authKey)
	member.http = client.http // the same CA
	body, err := member.Do(ctx, apiRequest{path: clusterAPI + "status"})
	if err != nil {
		return memberView{err: err}
	}
	var status clusterStatus
	if err := json.Unmarshal(body, &status); err != nil {
		return memberView{err: err}
	}
	return memberView{status: &status}
}

// memberURL is the base URL of a member: the configured scheme and path with the
// member's address. An unspecified host (":8080", "0.0.0.0:8080") keeps the
// configured host name.
func memberURL(base *url.URL, httpAddr string) *url.URL {
	u := *base
	host, port, err := net.SplitHostPort(httpAddr)
	if err != nil {
		u.Host = httpAddr
		return &u
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = base.Hostname()
	}
	u.Host = net.JoinHostPort(host, port)
	return &u
}

func (p *printer) printClusterStatus(s clusterStatus, views map[string]memberView) {
	leader := s.LeaderID
	if leader == "" {
		leader = p.styled(styleAlert, "none")
	} else if s.LeaderHTTPAddr != "" {
		leader += " (" + s.LeaderHTTPAddr + ")"
	}
	p.printf("Leader: %s   term %d   answered by %s (%s)\n\n", leader, s.Term, s.NodeID, s.State)
	header := []string{"NODE", "ROLE", "VOTER", "TERM", "COMMIT", "APPLIED", "LAST LOG", "GOSSIP", "HTTP", "RAFT", "VERSION"}
	var rows [][]cell
	var problems []string
	for _, m := range s.Members {
		role, term, commit, applied, last := memberRole(m), "-", "-", "-", "-"
		view := views[m.ID]
		if view.status != nil {
			role = view.status.State
			term = fmt.Sprint(view.status.Term)
			commit = fmt.Sprint(view.status.CommitIndex)
			applied = fmt.Sprint(view.status.AppliedIndex)
			last = fmt.Sprint(view.status.LastLogIndex)
		} else if view.err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", m.ID, view.err))
		}
		roleStyle := styleNone
		if m.Leader {
			roleStyle = styleBold
		}
		gossipStyle := styleNone
		if m.GossipState != "alive" {
			gossipStyle = styleAlert
		}
		rows = append(rows, []cell{
			{text: m.ID, style: roleStyle},
			{text: role, style: roleStyle},
			{text: yesNo(m.Voter)},
			{text: term}, {text: commit}, {text: applied}, {text: last},
			{text: m.GossipState, style: gossipStyle},
			{text: m.HTTPAddr},
			{text: m.RaftAddr},
			{text: anyString(m.Version)},
		})
	}
	p.renderTable(header, rows)
	if len(problems) > 0 {
		p.printf("\nUnreachable:\n")
		for _, problem := range problems {
			p.printf("  %s\n", problem)
		}
	}
}

func memberRole(m clusterMember) string {
	switch {
	case m.Leader:
		return "leader"
	case m.Voter:
		return "follower"
	default:
		return "nonvoter"
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func newRemovePeerCmd(a *app) *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:     "remove-peer --id NODE",
		Short:   "Remove a node from the cluster's voters (e.g. one that is gone for good)",
		Example: "  cmcli cluster remove-peer --id node3",
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			return a.clusterCall(cmd, "remove-peer", url.Values{"id": {id}}, func(p *printer, _ []byte) error {
				p.printf("Removed %s from the cluster.\n", id)
				return nil
			})
		}),
	}
	cmd.Flags().StringVar(&id, "id", "", "the node's id (see 'cmcli cluster status')")
	_ = cmd.MarkFlagRequired("id")
	return cmd
}

func newTransferLeaderCmd(a *app) *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:     "transfer-leader [--id NODE]",
		Short:   "Hand leadership to another node (to NODE, or to the most up to date)",
		Example: "  cmcli cluster transfer-leader\n  cmcli cluster transfer-leader --id node2",
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			params := url.Values{}
			if id != "" {
				params.Set("id", id)
			}
			return a.clusterCall(cmd, "transfer-leader", params, func(p *printer, body []byte) error {
				var resp struct {
					LeaderID string `json:"leader_id"`
				}
				_ = json.Unmarshal(body, &resp)
				if resp.LeaderID == "" {
					resp.LeaderID = "another node"
				}
				p.printf("Leadership transferred to %s.\n", resp.LeaderID)
				return nil
			})
		}),
	}
	cmd.Flags().StringVar(&id, "id", "", "the node to lead (default: the server chooses)")
	return cmd
}

// clusterCall POSTs one cluster operation and prints its answer.
func (a *app) clusterCall(cmd *cobra.Command, op string, params url.Values, human func(*printer, []byte) error) error {
	return a.send(cmd, apiRequest{method: "POST", path: clusterAPI + op, params: params}, false, human)
}
