package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// ConsistentRead returns once this node's state machine reflects every write that was
// acknowledged before the call began: a read served from it afterwards is linearizable.
// On the leader that is VerifyLeader; on a follower it is etcd's read index: the leader
// confirms its leadership and says how far the log is committed, and the follower waits
// until it has applied that far. Either way the state is read where the request
// arrived, and no read goes back in time.
func (n *Node) ConsistentRead(ctx context.Context) error {
	if n.IsLeader() {
		err := n.VerifyLeader(ctx)
		if !errors.Is(err, ErrNotLeader) {
			return err
		}
	}
	answer, err := n.leaderRPC(ctx, rpcReadIndex, nil)
	if err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	if len(answer) != 8 {
		return fmt.Errorf("read index: %w: %d bytes", errBadFrame, len(answer))
	}
	return n.waitApplied(ctx, binary.BigEndian.Uint64(answer))
}

// AwaitOwnWrites returns once this node's state machine holds every write this node
// has acknowledged: a client that wrote through a follower and reads back from it sees
// its write, as it would from the original single server. A follower learns that an
// entry is committed with the leader's next message, a few milliseconds after the
// leader acknowledged it; the leader applies before it acknowledges, so on the leader
// this returns at once.
func (n *Node) AwaitOwnWrites(ctx context.Context) error {
	return n.waitApplied(ctx, n.acknowledged.Load())
}

// noteAcknowledged records that a write this node acknowledged is applied on the leader
// up to index.
func (n *Node) noteAcknowledged(index uint64) {
	for {
		seen := n.acknowledged.Load()
		if index <= seen || n.acknowledged.CompareAndSwap(seen, index) {
			return
		}
	}
}

// serveReadIndex is the leader's side of ConsistentRead.
func (n *Node) serveReadIndex(ctx context.Context, _ []byte) ([]byte, error) {
	if err := n.VerifyLeader(ctx); err != nil {
		return nil, err
	}
	return binary.BigEndian.AppendUint64(nil, n.raft.CommitIndex()), nil
}

// waitApplied waits until the state machine has applied every command up to index.
func (n *Node) waitApplied(ctx context.Context, index uint64) error {
	pause := 500 * time.Microsecond
	for !(n.raft.AppliedIndex() >= index && n.fsmApplied(index)) {
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait to apply entry %d: %w", index, ctx.Err())
		case <-n.stopCh:
			t.Stop()
			return ErrShutdown
		case <-t.C:
		}
		pause = min(2*pause, 10*time.Millisecond)
	}
	return nil
}
