package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

const (
	// defaultLeaveTimeout bounds Leave when its context has no deadline.
	defaultLeaveTimeout = 15 * time.Second
	gossipLeaveTimeout  = 5 * time.Second
	leavePollInterval   = 100 * time.Millisecond
)

// Leave departs gracefully, e.g. on SIGTERM: a leader first hands
// leadership to another voter; then the node announces by gossip that it is
// leaving, waits for the leader to remove it from the Raft configuration,
// and leaves gossip. Call Shutdown afterwards. A lone server stays in its own
// configuration (removing the last voter would leave nobody to restart it), and
// so does the last one alive: with no other voter alive, no quorum can commit its
// removal, and waiting for one only delays the exit.
func (n *Node) Leave(ctx context.Context) error {
	if n.isShutdown() {
		return ErrShutdown
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultLeaveTimeout)
		defer cancel()
	}
	n.logger.Info("leaving the cluster")

	others := n.otherAliveVoters()
	var errs []error
	if n.IsLeader() && others > 0 {
		if err := n.TransferLeadership(ctx, ""); err != nil {
			// A leader that commits its own removal steps down: slower
			// than a transfer (the others wait out an election timeout)
			// but it gets us out.
			n.logger.Warn("leadership transfer failed; removing self instead", "err", err)
			if err := n.removeSelf(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}

	if n.gossip != nil {
		// Announce the leave first and wait for the leader to take us out of
		// the configuration while we are still healthy; then leave gossip.
		n.updateMeta(func(m *memberMeta) { m.Leaving = true })
		if others > 0 {
			if err := n.waitRemoved(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if err := n.leaveGossip(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("leave: %w", err)
	}
	n.logger.Info("left the cluster")
	return nil
}

// otherAliveVoters counts the voters other than this node that gossip sees alive.
func (n *Node) otherAliveVoters() int {
	servers, _ := n.configuration()
	count := 0
	for _, s := range servers {
		if s.Suffrage == raft.Voter && string(s.ID) != n.id && n.memberAlive(string(s.ID)) {
			count++
		}
	}
	return count
}

func (n *Node) removeSelf(ctx context.Context) error {
	if err := n.waitFuture(ctx, n.raft.RemoveServer(raft.ServerID(n.id), 0, enqueueTimeout(ctx))); err != nil {
		return fmt.Errorf("remove self: %w", err)
	}
	return nil
}

// leaveGossip broadcasts our departure (members will see us as "left").
func (n *Node) leaveGossip(ctx context.Context) error {
	timeout := gossipLeaveTimeout
	if d := enqueueTimeout(ctx); d > 0 && d < timeout {
		timeout = d
	}
	n.lifeMu.Lock()
	defer n.lifeMu.Unlock()
	if n.isShutdown() {
		return ErrShutdown
	}
	if err := n.gossip.Leave(timeout); err != nil {
		return fmt.Errorf("gossip leave: %w", err)
	}
	return nil
}

// waitRemoved waits until the configuration this node knows no longer
// contains it: the leader has committed our removal.
func (n *Node) waitRemoved(ctx context.Context) error {
	ticker := time.NewTicker(leavePollInterval)
	defer ticker.Stop()
	for {
		if _, err := n.server(n.id); errors.Is(err, ErrUnknownPeer) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still in the raft configuration: %w", ctx.Err())
		case <-n.stopCh:
			return ErrShutdown
		case <-ticker.C:
		}
	}
}
