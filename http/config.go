// Package http is coal-mine's HTTP layer: the Coal Mine v1 API exactly as the original
// server answers it, the short trigger URL, the cluster operator endpoints, health
// probes and metrics. Any node answers every call: writes go to the node's one write
// path (Writer), which brings them to the leader; consistent reads and operator
// requests ask the cluster, which asks the leader; only a restore's upload is streamed
// to the leader as it came.
//
// The package depends only on the small interfaces below; the daemon wires the real
// state machine, write path and cluster node into them.
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
	Channel(name string) (*fsm.Channel, error)
	Channels() []*fsm.Channel
	// Len and Outbox are for the web interface's cluster page.
	Len() int
	Outbox() []fsm.Notification
}

// ChannelTester checks a channel's settings the way the dispatcher will use them, and
// sends a test message through one (alerting.Service).
type ChannelTester interface {
	ValidateChannel(fsm.Channel) error
	TestChannel(ctx context.Context, ch fsm.Channel) (status int, body string, err error)
}

// Writer is the node's one write path (propose.Proposer): it commits a command through
// the leader, whichever node it arrived at, and follows the leader through elections
// for as long as the caller allows. An error wrapping cluster.ErrNotLeader means no
// leader took the command; any other error means it may or may not be applied.
type Writer interface {
	Propose(ctx context.Context, cmd fsm.Command) (fsm.Result, error)
	// ProposeWithin is Propose bounded by timeout too, without a timer of its own.
	ProposeWithin(ctx context.Context, cmd fsm.Command, timeout time.Duration) (fsm.Result, error)
	Create(ctx context.Context, c fsm.Create, taken func(id string) bool) (fsm.Result, error)
}

// Reads is what serving reads needs of the cluster.
type Reads interface {
	// Ready says whether this node knows a leader and has applied what was committed.
	Ready() bool
	// CaughtUp is closed once this node has been Ready once since it started.
	CaughtUp() <-chan struct{}
	// ConsistentRead returns once this node's state reflects every write acknowledged
	// before the call (asking the leader, wherever it is).
	ConsistentRead(ctx context.Context) error
	// AwaitOwnWrites returns once this node's state holds every write this node
	// acknowledged, so that a client reads back what it wrote through the same node.
	AwaitOwnWrites(ctx context.Context) error
}

// Operations is what the operator endpoints need of the cluster. RemovePeer and
// TransferLeadership are done by the leader, wherever they are asked.
type Operations interface {
	// Status is the JSON object shown by /coal-mine/v1/cluster/status (without "status").
	Status() any
	LeaderID() string
	RemovePeer(ctx context.Context, id string) error
	TransferLeadership(ctx context.Context, id string) error
	// Backup writes a backup to w; an error wrapping cluster.ErrBackupNotReady means this
	// node cannot take one yet (it answers 503 with Retry-After).
	Backup(ctx context.Context, w io.Writer) error
	Restore(ctx context.Context, r io.Reader) error
}

// Leadership is what streaming a restore's upload to the leader needs.
type Leadership interface {
	IsLeader() bool
	// LeaderHTTPAddr is the leader's HTTP host:port, "" while no leader is known.
	LeaderHTTPAddr() string
	// WaitLeader returns once a leader is known (possibly this node).
	WaitLeader(ctx context.Context) error
}

// Health is what explaining a write that failed needs: a node that cannot write its
// Raft log (a full disk) says so, instead of "no leader".
type Health interface {
	// StorageError is why this node cannot write its Raft log, nil when it can.
	StorageError() error
}

// Cluster is the node, as the daemon passes it: every part of it the HTTP layer uses.
type Cluster interface {
	Reads
	Operations
	Leadership
	Health
}

// Config configures NewHandler. Store, Writer and Cluster are required.
type Config struct {
	// AuthKey, when set, must be given as auth_key on every call but trigger.
	AuthKey string
	// ReadOnlyKey, with AuthKey, may be given instead for get, list and the cluster's
	// status; any other call with it is 403.
	ReadOnlyKey string
	// Warnings about this node's settings, shown in /readyz's answer (an API open to
	// the network without a key).
	Warnings []string
	Store    Store
	Writer   Writer
	Cluster  Cluster
	// Channels validates and tests notification channels; nil accepts what the state
	// machine accepts and cannot test.
	Channels ChannelTester
	// Logger receives errors, and the access log at debug level. Nil discards.
	Logger *slog.Logger
	// Now is the clock for periodicity_schedule; nil is time.Now.
	Now func() time.Time
	// ElectionWait bounds how long a read or an operator request waits for a leader,
	// and a node that has just started for its catching up (default 5s).
	ElectionWait time.Duration
	// CommitTimeout bounds a write, its wait for a leader included (default 10s).
	CommitTimeout time.Duration
	// MaxRestoreBytes bounds a snapshot restore upload (default 1 GiB).
	MaxRestoreBytes int64
	// RestoreStall abandons a restore upload that brings less than 64 KiB in this long
	// (default 15s), answering 408.
	RestoreStall time.Duration
	// Registry receives the HTTP metrics and is what /metrics shows. Nil makes a
	// registry of its own (with the Go and process collectors).
	Registry *prometheus.Registry
	// ForwardClient streams a restore's upload to the leader. Nil makes a keep-alive
	// client.
	ForwardClient *http.Client
	// PublicURL is the server as users reach it: the web interface's ping URLs use it.
	PublicURL string
	// PublicBadges serves /badge/ without a key when the API has one.
	PublicBadges bool
	// Version is shown by the web interface.
	Version string
}

// Defaults for the zero values of Config.
const (
	DefaultElectionWait    = 5 * time.Second
	DefaultCommitTimeout   = 10 * time.Second
	DefaultMaxRestoreBytes = 1 << 30
	DefaultRestoreStall    = 15 * time.Second
)

// Request size limits.
const (
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
		cfg.ForwardClient = NewForwardClient(nil)
	}
}
