package main

import (
	"strings"
	"time"
)

// This file holds what a campaign records and what the checks read. The checks are pure
// functions of these values, so that they can be tested on synthetic histories.

// OpKind names what a client asked a node for.
type OpKind string

const (
	OpCreate  OpKind = "create"
	OpTrigger OpKind = "trigger"
	OpGet     OpKind = "get"
	OpList    OpKind = "list"
	OpPause   OpKind = "pause"
	OpDelete  OpKind = "delete"
)

// Outcome is what a client learnt about an operation.
type Outcome int

const (
	// Acked: HTTP 200 with "status": "ok". A write is committed.
	Acked Outcome = iota
	// Rejected: a 4xx answer. The server says it did not do it.
	Rejected
	// Unknown: a 5xx answer, no answer, or a timeout. A write may or may not have been
	// applied ("may still be applied: retry").
	Unknown
)

func (o Outcome) String() string {
	return [...]string{"acked", "rejected", "unknown"}[o]
}

// Op is one request of one client, as the client saw it.
type Op struct {
	Seq    int64     `json:"seq"`
	Client string    `json:"client"`
	Kind   OpKind    `json:"kind"`
	Node   string    `json:"node"` // the node the request went to
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Status int       `json:"status"` // HTTP status; 0 when there was no answer
	OK     bool      `json:"ok"`     // the body said "status": "ok"
	Error  string    `json:"error,omitempty"`

	// The canary: its id is known for every op but a create that was not acknowledged.
	CanaryID string `json:"canary_id,omitempty"`
	Name     string `json:"name,omitempty"`
	// By is how the request named the canary: id, short (the /<id> URL), slug or name.
	By         string `json:"by,omitempty"`
	Comment    string `json:"comment,omitempty"` // a trigger's unique token
	Consistent bool   `json:"consistent,omitempty"`

	// What an acknowledged answer said.
	Recovered bool `json:"recovered,omitempty"` // trigger: it ended a late state
	// Seen is, for a get, every trigger token in the canary's history and, for a list,
	// every canary id listed.
	Seen []string `json:"seen,omitempty"`
	// HistoryLen and Oldest describe a get's history, for the pruning rule.
	HistoryLen int       `json:"history_len,omitempty"`
	Oldest     time.Time `json:"oldest,omitzero"`
}

// Outcome classifies the answer.
func (o *Op) Outcome() Outcome {
	switch {
	case o.Status == 200 && o.OK:
		return Acked
	case o.Status >= 400 && o.Status < 500:
		return Rejected
	default:
		return Unknown
	}
}

// IsWrite tells the operations that change state (and count for availability).
func (o *Op) IsWrite() bool {
	switch o.Kind {
	case OpCreate, OpTrigger, OpPause, OpDelete:
		return true
	}
	return false
}

// Entry is one history entry of a canary.
type Entry struct {
	At      time.Time
	Comment string
}

// triggerPrefix is how the server records a trigger with a comment: "Triggered (c)".
const triggerPrefix = "Triggered ("

// Token is the comment a trigger was sent with, or "" when e is not a trigger with one.
func (e Entry) Token() string {
	if !strings.HasPrefix(e.Comment, triggerPrefix) || !strings.HasSuffix(e.Comment, ")") {
		return ""
	}
	return e.Comment[len(triggerPrefix) : len(e.Comment)-1]
}

// setsDeadline tells the entries after which a canary is watched from a new deadline.
func (e Entry) setsDeadline() bool {
	return e.Comment == "Canary created" || e.Comment == "Triggered" ||
		strings.HasPrefix(e.Comment, triggerPrefix) ||
		e.Comment == "Unpaused" || strings.HasPrefix(e.Comment, "Unpaused (")
}

// isPause tells a "Paused" entry: a paused canary is not watched.
func (e Entry) isPause() bool {
	return e.Comment == "Paused" || strings.HasPrefix(e.Comment, "Paused (")
}

// Canary is a canary as a node showed it at the end.
type Canary struct {
	ID     string
	Name   string
	Slug   string
	Late   bool
	Paused bool
	// Periodicity in seconds; 0 for a schedule.
	Periodicity float64
	History     []Entry // oldest first
}

// NodeState is one node's final list?verbose=true.
type NodeState struct {
	Node     string
	Canaries map[string]*Canary // by id
}

// Mail is one message the sink received.
type Mail struct {
	MessageID string
	CanaryID  string
	Kind      string // late or resumed
	Seq       uint64 // the outbox record's sequence, from the Message-ID
	// Newest is the newest history entry the message lists: for a RESUMED, the trigger
	// that ended the late state; for a LATE, the last event before the deadline passed.
	Newest   string
	Subject  string
	Received time.Time
}

// FaultKind names a fault.
type FaultKind string

const (
	FaultKill       FaultKind = "kill"        // kill -9 of a random node, restarted later
	FaultKillLeader FaultKind = "kill-leader" // kill -9 of the leader, restarted later
	FaultPause      FaultKind = "pause"       // SIGSTOP, then SIGCONT
	FaultPartition  FaultKind = "partition"   // the node's Raft and gossip traffic dropped
	FaultRestart    FaultKind = "restart"     // SIGTERM, then started again
	FaultTransfer   FaultKind = "transfer"    // leadership transfer
	FaultCluster    FaultKind = "cluster-restart"
)

// Fault is one injected fault: from when it began to when the node was whole again
// (restarted and ready, continued, or healed).
type Fault struct {
	Kind  FaultKind `json:"kind"`
	Node  string    `json:"node,omitempty"` // empty for the whole cluster
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Note  string    `json:"note,omitempty"`
}

// StartRecord is one start of a node process.
type StartRecord struct {
	Node    string        `json:"node"`
	N       int           `json:"n"` // 1 for the first start
	At      time.Time     `json:"at"`
	Ready   bool          `json:"ready"`
	Took    time.Duration `json:"took"` // until /readyz answered 200
	Err     string        `json:"error,omitempty"`
	LogFile string        `json:"log_file"`
}

// StopRecord is one SIGTERM of a node and how long the process took to exit.
type StopRecord struct {
	Node   string        `json:"node"`
	At     time.Time     `json:"at"`
	Took   time.Duration `json:"took"`
	Killed bool          `json:"killed"` // it did not exit in time and got SIGKILL
}

// DeathRecord is a node process that exited when the campaign had not stopped it.
type DeathRecord struct {
	Node    string    `json:"node"`
	N       int       `json:"n"` // which start of the node
	At      time.Time `json:"at"`
	Err     string    `json:"exit"`
	LogFile string    `json:"log_file"`
}

// LogFinding is a line of a node's log that shows it crashed.
type LogFinding struct {
	File    string
	Line    int
	Text    string
	Context string // the lines after it
}

// Run is everything a campaign recorded, the input of the checks.
type Run struct {
	Ops        []Op
	Faults     []Fault
	Finals     []NodeState
	Converged  bool
	Divergence string // what differed between nodes when they did not converge
	Mails      []Mail
	Duplicates int // deliveries of a Message-ID already received
	Starts     []StartRecord
	Stops      []StopRecord
	Deaths     []DeathRecord
	Findings   []LogFinding
	// The workload ran from WorkStart to WorkEnd.
	WorkStart, WorkEnd time.Time
}
