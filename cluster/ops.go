package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

const waitLeaderPoll = 20 * time.Millisecond

// Apply proposes cmd and waits until it is committed and applied, returning
// what the FSM's Apply returned (an FSM error is a value, not err). Only the
// leader may propose: elsewhere it is ErrNotLeader. If ctx ends first the
// command may still be applied later.
func (n *Node) Apply(ctx context.Context, cmd []byte) (any, error) {
	if err := n.checkLeader(ctx); err != nil {
		return nil, err
	}
	future := n.raft.Apply(cmd, enqueueTimeout(ctx))
	if err := n.waitFuture(ctx, future); err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	return future.Response(), nil
}

// Barrier waits until every entry committed before the call is applied to
// the FSM on this node, which must be the leader.
func (n *Node) Barrier(ctx context.Context) error {
	if err := n.checkLeader(ctx); err != nil {
		return err
	}
	if err := n.waitFuture(ctx, n.raft.Barrier(enqueueTimeout(ctx))); err != nil {
		return fmt.Errorf("barrier: %w", err)
	}
	return nil
}

// VerifyLeader makes a read served after it linearizable: this node leads, has applied
// every entry that earlier terms committed (a leader just elected may not have yet:
// raft's own VerifyLeader does not wait for that), and a quorum confirms it still leads.
func (n *Node) VerifyLeader(ctx context.Context) error {
	if err := n.checkLeader(ctx); err != nil {
		return err
	}
	if err := n.waitEstablished(ctx); err != nil {
		return err
	}
	if err := n.waitFuture(ctx, n.raft.VerifyLeader()); err != nil {
		return fmt.Errorf("verify leader: %w", err)
	}
	return nil
}

// IsLeader reports whether this node is the leader right now.
func (n *Node) IsLeader() bool {
	return !n.isShutdown() && n.raft.State() == raft.Leader
}

// LeaderID is the current leader's id as this node knows it, "" if none.
func (n *Node) LeaderID() string {
	if n.isShutdown() {
		return ""
	}
	_, id := n.raft.LeaderWithID()
	return string(id)
}

// LeaderHTTPAddr is the leader's HTTP address from its gossip metadata, ""
// if there is no leader or it is not known yet.
func (n *Node) LeaderHTTPAddr() string {
	id := n.LeaderID()
	switch {
	case id == "":
		return ""
	case id == n.id:
		return n.httpAddr
	}
	if m, ok := n.members.get(id); ok && m.MetaOK {
		return m.Meta.HTTPAddr
	}
	return ""
}

// WaitLeader blocks until some leader is known (possibly this node).
func (n *Node) WaitLeader(ctx context.Context) error {
	ticker := time.NewTicker(waitLeaderPoll)
	defer ticker.Stop()
	for {
		if n.isShutdown() {
			return ErrShutdown
		}
		if n.LeaderID() != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for leader: %w", ctx.Err())
		case <-ticker.C:
		}
	}
}

// RemovePeer removes a server from the Raft configuration, on the leader wherever it is
// called. Meant for servers that failed and will not come back: a member gossip sees
// alive is refused with ErrPeerAlive, since the leader would add it straight back.
func (n *Node) RemovePeer(ctx context.Context, id string) error {
	if !n.IsLeader() {
		_, err := n.leaderRPC(ctx, rpcRemovePeer, []byte(id))
		return err
	}
	if err := n.checkLeader(ctx); err != nil {
		return err
	}
	if _, err := n.server(id); err != nil {
		return err
	}
	if n.memberAlive(id) {
		return fmt.Errorf("remove %s: %w", id, ErrPeerAlive)
	}
	if err := n.waitFuture(ctx, n.raft.RemoveServer(raft.ServerID(id), 0, enqueueTimeout(ctx))); err != nil {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	n.logger.Info("removed server", "member", id, "reason", "operator request")
	return nil
}

// TransferLeadership hands leadership to the voter id, or to the most up-to-date voter
// if id is "", on the leader wherever it is called. It returns once the transfer is done.
func (n *Node) TransferLeadership(ctx context.Context, id string) error {
	if !n.IsLeader() {
		_, err := n.leaderRPC(ctx, rpcTransferLeader, []byte(id))
		return err
	}
	if err := n.checkLeader(ctx); err != nil {
		return err
	}
	var future raft.Future
	if id == "" {
		future = n.raft.LeadershipTransfer()
	} else {
		s, err := n.server(id)
		if err != nil {
			return err
		}
		if s.Suffrage != raft.Voter || id == n.id {
			return fmt.Errorf("transfer leadership to %s: not another voter: %w", id, ErrUnknownPeer)
		}
		future = n.raft.LeadershipTransferToServer(s.ID, s.Address)
	}
	if err := n.waitFuture(ctx, future); err != nil {
		return fmt.Errorf("transfer leadership: %w", err)
	}
	return nil
}

// checkLeader fails fast when the node is shut down, ctx is done, or this
// node is not the leader.
func (n *Node) checkLeader(ctx context.Context) error {
	if n.isShutdown() {
		return ErrShutdown
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if n.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	return nil
}

// configuration returns the latest Raft configuration.
func (n *Node) configuration() ([]raft.Server, error) {
	future := n.raft.GetConfiguration()
	if err := future.Error(); err != nil {
		return nil, translateRaftError(err)
	}
	return future.Configuration().Servers, nil
}

// server looks id up in the Raft configuration.
func (n *Node) server(id string) (raft.Server, error) {
	servers, err := n.configuration()
	if err != nil {
		return raft.Server{}, err
	}
	for _, s := range servers {
		if string(s.ID) == id {
			return s, nil
		}
	}
	return raft.Server{}, fmt.Errorf("%q: %w", id, ErrUnknownPeer)
}

// serverSet is the set of ids in the Raft configuration (empty on error).
func (n *Node) serverSet() map[string]bool {
	set := make(map[string]bool)
	servers, _ := n.configuration()
	for _, s := range servers {
		set[string(s.ID)] = true
	}
	return set
}

// memberAlive reports whether gossip sees id alive (this node always is).
func (n *Node) memberAlive(id string) bool {
	if id == n.id {
		return true
	}
	m, ok := n.members.get(id)
	return ok && m.State == gossipAlive
}

// enqueueTimeout turns ctx's deadline into raft's enqueue timeout (0: none).
func enqueueTimeout(ctx context.Context) time.Duration {
	deadline, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	return max(time.Until(deadline), time.Millisecond)
}

// waitFuture waits for a raft future, ctx, or Shutdown, translating raft's
// errors. Shutdown must be watched: raft never answers a future that was
// still queued (BatchApplyCh buffers them) when it shut down.
func (n *Node) waitFuture(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return translateRaftError(err)
	case <-ctx.Done():
		return ctx.Err()
	case <-n.stopCh:
		return ErrShutdown
	}
}
