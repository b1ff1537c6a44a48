package cluster

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
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

	snapshotsRetained = 2
	logCacheEntries   = 512
	logCacheMaxEntry  = 64 << 10 // a full batch of triggers is about 15 KB; imports are read back
	transportMaxPool  = 3
	transportTimeout  = 10 * time.Second
	boltOpenTimeout   = time.Second
)

// raftParts are the pieces of a Raft server that Shutdown must close.
type raftParts struct {
	store     *raftboltdb.BoltStore // term and vote
	log       *logStore             // the Raft log
	logs      *logCache             // the log behind its cache, as raft reads it
	applied   *appliedFSM           // the FSM as raft calls it
	snapshots *snapshotStore
	trash     *trash // compacted log segments and old snapshots, deleted slowly
	transport *commitTransport
	rpcLayer  raft.StreamLayer // the nodes' RPC, on the Raft port
	raft      *raft.Raft
	hasState  bool   // the data dir held Raft state before we started
	advertise string // Raft address other servers dial
}

// startRaft opens the stores in cfg.DataDir and starts Raft with fsm.
// notify receives every leadership transition.
func startRaft(cfg *Config, id string, fsm raft.FSM, notify chan<- bool) (*raftParts, error) {
	p := &raftParts{}
	ok := false
	defer func() {
		if !ok {
			p.close()
		}
	}()

	logger := cfg.Logger.With("node", id)
	removeStaleRestores(cfg.DataDir, logger)
	// Everything NewRaft reads is read first (startcheck.go): it and the stores panic
	// on some damage, and quietly start over on other.
	if err := checkRaftDB(cfg.DataDir); err != nil {
		return nil, err
	}
	var err error
	p.store, err = raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(cfg.DataDir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: boltOpenTimeout},
		// NoSync stays false: an acknowledged write has been fsynced.
	})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("open raft.db: %w (is another coal-mine using %s?)", err, cfg.DataDir)
		}
		return nil, fmt.Errorf("open raft.db: %w", err)
	}
	hclogger := newHCLogAdapter(cfg.Logger, "raft")
	p.trash, err = openTrash(cfg.DataDir, logger)
	if err != nil {
		return nil, err
	}
	p.log, err = openLogStore(cfg.DataDir, p.store, p.trash, hclogger, cfg.logSegmentSize)
	if err != nil {
		return nil, err
	}
	p.logs, err = newLogCache(p.log, logCacheEntries, logCacheMaxEntry)
	if err != nil {
		return nil, fmt.Errorf("raft log cache: %w", err)
	}
	p.snapshots, err = newSnapshotStore(cfg.DataDir, snapshotsRetained, p.trash, logger, hclogger)
	if err != nil {
		return nil, fmt.Errorf("open snapshot store: %w", err)
	}
	if err := checkStartState(cfg.DataDir, p.log, p.snapshots, logger); err != nil {
		return nil, err
	}
	p.hasState, err = raft.HasExistingState(p.logs, p.store, p.snapshots)
	if err != nil {
		return nil, fmt.Errorf("inspect raft state: %w", err)
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
	p.applied = &appliedFSM{FSM: fsm, snapshots: p.snapshots}
	p.raft, err = newRaftProtected(cfg.DataDir, func() (*raft.Raft, error) {
		return raft.NewRaft(rc, p.applied, p.logs, p.store, p.snapshots, p.transport)
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

func raftConfig(id string, notify chan<- bool, logger *hclogAdapter) *raft.Config {
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
func (p *raftParts) close() error {
	var errs []error
	if p.raft != nil {
		// raft's shutdown closes the transport too.
		if err := p.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
		}
	} else if p.transport != nil {
		p.transport.Close()
	}
	if p.log != nil {
		if err := p.log.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close raft log: %w", err))
		}
	}
	if p.store != nil {
		if err := p.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close raft.db: %w", err))
		}
	}
	if p.trash != nil {
		p.trash.close()
	}
	return errors.Join(errs...)
}
