package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"github.com/coal-mine/coal-mine/cluster/internal/storage"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// Node is one coal-mine server: a Raft peer plus its gossip membership.
type Node struct {
	cfg      Config // with defaults
	id       string
	httpAddr string // cfg.HTTPAddr with an unspecified host made dialable
	logger   *slog.Logger
	fsm      raft.FSM

	raft              *raft.Raft
	store             *storage.Store // the data directory: Raft log, stable store, snapshots
	applied           *appliedFSM    // the FSM as raft calls it
	transport         *commitTransport
	advertise         string // Raft address other servers dial
	notifyCh          chan bool
	leadershipChanged chan struct{}                 // capacity 1: raft notified a change
	established       atomic.Pointer[establishment] // this node's current term as leader, nil when it does not lead
	readiness         *readiness

	rpc *rpcClient
	// acknowledged is the leader's applied index when it last answered a write this
	// node relayed: local reads wait until this node has applied as far.
	acknowledged atomic.Uint64
	rpcMu        sync.Mutex
	forwarded    rpcHandler // HandleForwarded

	subsystemsMu   sync.Mutex
	subsystems     []LeaderSubsystem // established in this order by the leader loop
	subsystemAdded chan struct{}     // capacity 1

	gossip *memberlist.Memberlist // nil without gossip
	// gossipAddr is read once at start: memberlist's LocalNode is not safe
	// to read while metadata updates write it.
	gossipAddr string
	members    *memberTable
	joined     atomic.Bool // a Join reached another member

	metaMu    sync.Mutex
	localMeta memberMeta

	stopCh   chan struct{} // closed by Shutdown: background loops end
	raftDone chan struct{} // closed once raft has shut down
	wg       sync.WaitGroup

	// lifeMu orders Leave against Shutdown: memberlist panics on a Leave
	// after Shutdown.
	lifeMu       sync.Mutex
	shutdown     atomic.Bool
	shutdownOnce sync.Once
	shutdownErr  error
}

// New starts a node. It returns once Raft and gossip are listening; joining,
// bootstrapping and electing a leader continue in the background (see
// WaitLeader). ctx bounds those background join and bootstrap attempts only:
// cancelling it does not stop the node, Shutdown does.
func New(ctx context.Context, cfg Config, fsm raft.FSM) (*Node, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if fsm == nil {
		return nil, errors.New("cluster: nil FSM")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	id, err := storage.NodeID(cfg.DataDir, cfg.NodeID)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}

	n := &Node{
		cfg:               cfg,
		id:                id,
		logger:            cfg.Logger.With("node", id),
		fsm:               fsm,
		notifyCh:          make(chan bool, 1),
		leadershipChanged: make(chan struct{}, 1),
		subsystemAdded:    make(chan struct{}, 1),
		readiness:         newReadiness(),
		stopCh:            make(chan struct{}),
		raftDone:          make(chan struct{}),
	}
	n.members = newMemberTable(n.logger)

	rs, err := startRaft(&n.cfg, id, fsm, n.notifyCh)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	n.raft, n.store, n.applied, n.transport, n.advertise = rs.raft, rs.store, rs.applied, rs.transport, rs.advertise
	n.rpc = newRPCClient(rs.rpcLayer)
	n.wg.Add(2)
	go n.forwardLeadership()
	go n.serveRPC(rs.rpcLayer)

	n.httpAddr = dialableHTTPAddr(cfg.HTTPAddr, n.advertise)
	n.localMeta = memberMeta{
		ID:       id,
		RaftAddr: n.advertise,
		HTTPAddr: n.httpAddr,
		Version:  cfg.Version,
		Expect:   cfg.BootstrapExpect,
		HasState: n.store.HasState(),
	}
	if err := n.startGossip(ctx); err != nil {
		n.Shutdown()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if err := n.startBootstrap(ctx); err != nil {
		n.Shutdown()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if n.gossip != nil {
		n.AddLeaderSubsystem(&membership{n: n})
	}
	n.wg.Add(3)
	go n.monitorLeadership()
	go n.trackReadiness()
	go n.snapshotBySize()
	n.logger.Info("cluster node started", "raft_addr", n.advertise, "gossip", cfg.GossipAddr,
		"http_addr", n.httpAddr, "existing_state", n.store.HasState(), "bootstrap_expect", cfg.BootstrapExpect)
	return n, nil
}

// dialableHTTPAddr replaces an empty or unspecified host (":8080",
// "0.0.0.0:8080") by the host other servers reach this one at.
func dialableHTTPAddr(httpAddr, raftAdvertise string) string {
	if httpAddr == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(httpAddr)
	if err != nil || !isUnspecifiedHost(host) {
		return httpAddr
	}
	raftHost, _, err := net.SplitHostPort(raftAdvertise)
	if err != nil {
		return httpAddr
	}
	return net.JoinHostPort(raftHost, port)
}

// ID is this node's server id.
func (n *Node) ID() string { return n.id }

// RaftAddr is the Raft address other servers dial (useful with port 0).
func (n *Node) RaftAddr() string { return n.advertise }

// GossipAddr is the advertised gossip address, "" without gossip.
func (n *Node) GossipAddr() string {
	return n.gossipAddr
}

// HTTPAddr is the HTTP address this node gossips.
func (n *Node) HTTPAddr() string { return n.httpAddr }

// Shutdown stops Raft and gossip without leaving (others see a failure; use
// Leave first for a graceful exit), revokes the leader subsystems if this node leads,
// and closes the stores. It is idempotent.
func (n *Node) Shutdown() error {
	n.shutdownOnce.Do(func() {
		n.lifeMu.Lock()
		n.shutdown.Store(true)
		n.lifeMu.Unlock()
		close(n.stopCh)

		var errs []error
		if err := n.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
		}
		close(n.raftDone)
		if n.gossip != nil {
			if err := n.gossip.Shutdown(); err != nil {
				errs = append(errs, fmt.Errorf("gossip shutdown: %w", err))
			}
		}
		n.wg.Wait()
		n.rpc.close()
		if err := n.store.Close(); err != nil {
			errs = append(errs, err)
		}
		n.shutdownErr = errors.Join(errs...)
		n.logger.Info("cluster node stopped")
	})
	return n.shutdownErr
}

func (n *Node) isShutdown() bool { return n.shutdown.Load() }

// StorageError says why this node cannot write its Raft log, nil when its last append
// succeeded. It wraps ErrDiskFull when the file system is full. While it is set the node
// serves reads but takes no writes: the leader steps down when an append fails, and the
// node resumes by itself once an append succeeds (space was freed).
func (n *Node) StorageError() error { return n.store.Err() }
