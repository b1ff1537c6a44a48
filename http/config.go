// Package http is coal-mine's HTTP layer: the Coal Mine v1 API exactly as the original
// server answers it, the short trigger URL, the cluster operator endpoints, health
// probes and metrics. Writes reach the Raft leader from any node: a follower forwards
// them in one hop.
//
// The package depends only on the small interfaces below; the daemon wires the real
// state machine, proposer and cluster node into them.
package http

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
	"github.com/prometheus/client_golang/prometheus"
)

// Store is the local, possibly stale, view of the state machine.
type Store interface {
	Get(id string) (*fsm.Canary, error)
	IDBySlug(slug string) (string, error)
	List(fsm.Filter) ([]*fsm.Canary, bool)
}

// Proposer commits commands through Raft. Errors wrapping propose.ErrNotLeader mean
// this node cannot commit and the request must go to the leader.
type Proposer interface {
	Propose(ctx context.Context, cmd fsm.Command) (fsm.Result, error)
	// ProposeWithin is Propose bounded by timeout too, without a timer of its own.
	ProposeWithin(ctx context.Context, cmd fsm.Command, timeout time.Duration) (fsm.Result, error)
	Create(ctx context.Context, c fsm.Create, taken func(id string) bool) (fsm.Result, error)
	// Commit commits a batch a follower relayed as one entry (see NewRelay).
	Commit(ctx context.Context, cmds []fsm.Command) ([]fsm.Result, error)
}

// Relay sends commands to the leader in batches: NewRelay.
type Relay interface {
	ProposeWithin(ctx context.Context, cmd fsm.Command, timeout time.Duration) (fsm.Result, error)
}

// Cluster is what the HTTP layer needs to know about Raft leadership and membership.
type Cluster interface {
	IsLeader() bool
	// LeaderHTTPAddr is the leader's HTTP host:port, "" while no leader is known.
	LeaderHTTPAddr() string
	// WaitLeader returns once a leader is known (possibly this node).
	WaitLeader(ctx context.Context) error
	// VerifyLeader confirms with a quorum that this node still leads.
	VerifyLeader(ctx context.Context) error
	Ready() bool
	// CaughtUp is closed once this node has been Ready once since it started.
	CaughtUp() <-chan struct{}
	// Status is the JSON object shown by /coal-mine/v1/cluster/status (without "status").
	Status() any
	RemovePeer(ctx context.Context, id string) error
	TransferLeadership(ctx context.Context, id string) error
	LeaderID() string
	// Backup writes a backup to w; an error wrapping ErrBackupNotReady means this
	// node cannot take one yet (it answers 503 with Retry-After).
	Backup(ctx context.Context, w io.Writer) error
	Restore(ctx context.Context, r io.Reader) error
}

// Config configures NewHandler. Store, Proposer and Cluster are required.
type Config struct {
	// AuthKey, when set, must be given as auth_key on every call but trigger.
	AuthKey  string
	Store    Store
	Proposer Proposer
	Cluster  Cluster
	// Logger receives errors, and the access log at debug level. Nil discards.
	Logger *slog.Logger
	// Now is the clock for periodicity_schedule; nil is time.Now.
	Now func() time.Time
	// ForwardTimeout bounds one forwarded request to the leader (default 15s).
	ForwardTimeout time.Duration
	// ElectionWait bounds how long a write waits for a leader (default 5s).
	ElectionWait time.Duration
	// CommitTimeout bounds one Propose on the leader (default 10s).
	CommitTimeout time.Duration
	// MaxRestoreBytes bounds a snapshot restore upload (default 1 GiB).
	MaxRestoreBytes int64
	// RestoreStall abandons a restore upload that brings less than 64 KiB in this long
	// (default 15s), answering 408.
	RestoreStall time.Duration
	// Registry receives the HTTP metrics and is what /metrics shows. Nil makes a
	// registry of its own (with the Go and process collectors).
	Registry *prometheus.Registry
	// ForwardClient forwards requests to the leader. Nil makes a keep-alive client.
	ForwardClient *http.Client
	// Relay, on a follower, batches the commands on one canary (triggers above all)
	// to the leader. Nil forwards each request on its own.
	Relay Relay
}

// Defaults for the zero values of Config.
const (
	DefaultForwardTimeout  = 15 * time.Second
	DefaultElectionWait    = 5 * time.Second
	DefaultCommitTimeout   = 10 * time.Second
	DefaultMaxRestoreBytes = 1 << 30
	DefaultRestoreStall    = 15 * time.Second
)

// Request size limits.
const (
	maxParamBody  = 1 << 20  // v1 calls ignore their body; at most this much is read
	maxImportBody = 16 << 20 // POST /coal-mine/v1/canary/import: one Raft entry, so kept small; cmcli sends batches
	maxHeaderSize = 1 << 20  // request line (query string) and headers
)

func (cfg *Config) setDefaults() {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ForwardTimeout <= 0 {
		cfg.ForwardTimeout = DefaultForwardTimeout
	}
	if cfg.ElectionWait <= 0 {
		cfg.ElectionWait = DefaultElectionWait
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = DefaultCommitTimeout
	}
	if cfg.MaxRestoreBytes <= 0 {
		cfg.MaxRestoreBytes = DefaultMaxRestoreBytes
	}
	if cfg.RestoreStall <= 0 {
		cfg.RestoreStall = DefaultRestoreStall
	}
	if cfg.ForwardClient == nil {
		cfg.ForwardClient = newForwardClient()
	}
}
