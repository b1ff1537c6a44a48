package cluster

import (
	"errors"
	"fmt"
	"time"

	"github.com/coal-mine/coal-mine/cluster/internal/hclogslog"
	"github.com/coal-mine/coal-mine/cluster/internal/storage"
	"github.com/hashicorp/raft"
)

// Raft tuning. A follower notices a dead leader 0.5-1 s after its last heartbeat and
// the election takes one round of 0.5-1 s, two when the first is refused (a follower
// that heard the old leader more recently turns a pre-vote down): a write waits
// 1-2.5 s for a new leader. raft's defaults (1 s each) made that 2-4 s, measured in the
// fault campaign (deploy/chaos), which holds the longest outage to 3 s. Heartbeats go
// every 50 ms (a tenth of the timeout), far below what a loaded LAN delays them by, and
// the lease lets a cut-off leader step down after 0.5 s.
const (
	heartbeatTimeout   = 500 * time.Millisecond
	electionTimeout    = 500 * time.Millisecond
	leaderLeaseTimeout = 500 * time.Millisecond
	commitTimeout      = 50 * time.Millisecond

	transportMaxPool = 3
	transportTimeout = 10 * time.Second
)

// raftServer is a running Raft server and the parts Shutdown must close.
type raftServer struct {
	store     *storage.Store
	applied   *appliedFSM // the FSM as raft calls it
	transport *commitTransport
	rpcLayer  raft.StreamLayer // the nodes' RPC, on the Raft port
	raft      *raft.Raft
	advertise string // Raft address other servers dial
}

// startRaft opens the data directory and starts Raft with fsm. notify receives every
// leadership transition.
func startRaft(cfg *Config, id string, fsm raft.FSM, notify chan<- bool) (*raftServer, error) {
	p := &raftServer{}
	ok := false
	defer func() {
		if !ok {
			p.close()
		}
	}()

	logger := cfg.Logger.With("node", id)
	var err error
	p.store, err = storage.Open(cfg.DataDir, storage.Options{Logger: logger, SegmentSize: cfg.logSegmentSize})
	if err != nil {
		return nil, err
	}

	ln, advertise, err := listenRaft(cfg)
	if err != nil {
		return nil, err
	}
	p.advertise = advertise.String()
	nodeTLS, err := newNodeTLS(id, cfg.Keys, cfg.TLS)
	if err != nil {
		ln.Close()
		return nil, err
	}
	mux := newPortMux(ln, advertise, nodeTLS, cfg.Logger.With("node", id))
	layer, rpcLayer := mux.layer(protoRaft), mux.layer(protoRPC)
	p.rpcLayer = rpcLayer
	if cfg.WrapRaftStream != nil {
		layer = cfg.WrapRaftStream(id, layer)
		p.rpcLayer = cfg.WrapRaftStream(id, rpcLayer)
	}
	hclogger := hclogslog.New(cfg.Logger, "raft")
	p.transport = newCommitTransport(raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  layer,
		MaxPool: transportMaxPool,
		Timeout: transportTimeout,
		Logger:  hclogger.Named("net"),
	}))

	rc := raftConfig(id, notify, hclogger)
	if cfg.TuneRaft != nil {
		cfg.TuneRaft(rc)
	}
	if err := raft.ValidateConfig(rc); err != nil {
		return nil, fmt.Errorf("raft config: %w", err)
	}
	p.applied = &appliedFSM{FSM: fsm, snapshots: p.store.Snapshots()}
	p.raft, err = p.store.StartRaft(func() (*raft.Raft, error) {
		return raft.NewRaft(rc, p.applied, p.store.Log(), p.store.Stable(), p.store.Snapshots(), p.transport)
	})
	if err != nil {
		return nil, fmt.Errorf("start raft: %w", err)
	}
	p.transport.setTerm(p.raft.CurrentTerm)
	// NewRaft has restored the newest snapshot it could read (Restore noted the newest
	// in the store, which may be one it could not read). Entries applied since can only
	// raise both figures.
	p.applied.index.Store(min(p.applied.index.Load(), p.raft.AppliedIndex()))
	ok = true
	return p, nil
}

func raftConfig(id string, notify chan<- bool, logger *hclogslog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(id)
	rc.HeartbeatTimeout = heartbeatTimeout
	rc.ElectionTimeout = electionTimeout
	rc.LeaderLeaseTimeout = leaderLeaseTimeout
	rc.CommitTimeout = commitTimeout
	rc.NotifyCh = notify
	rc.Logger = logger
	// A removed server keeps running so that it can be added back (it
	// restarts, or it was removed by mistake) without a restart.
	rc.ShutdownOnRemove = false
	// Concurrent Applies are written to the log as one batch: one fsync.
	rc.BatchApplyCh = true
	return rc
}

// close releases whatever was opened, in reverse order.
func (p *raftServer) close() error {
	var errs []error
	if p.raft != nil {
		// raft's shutdown closes the transport too.
		if err := p.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
		}
	} else if p.transport != nil {
		p.transport.Close()
	}
	if p.store != nil {
		if err := p.store.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
