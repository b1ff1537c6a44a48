// Package cluster runs the Raft node of coal-mine.
//
// A Node wraps hashicorp/raft (log in raft-wal, term and vote in
// raft-boltdb, file snapshots) and hashicorp/memberlist (gossip membership). It takes any
// raft.FSM, so it knows nothing of canaries. Big files leave the data directory through
// a trash that frees them slowly, and snapshots reach the disk as they are written, so
// that neither holds up the log's appends (see trash and snapshotStore).
//
// Membership follows the Consul model: every node gossips its node id, Raft
// address, HTTP address and version. Fresh nodes started with
// BootstrapExpect N wait until N of them see each other and agree on the same
// set, then bootstrap that set as the first Raft configuration. From then on
// the leader reconciles the Raft configuration with the gossip view: alive
// members become voters, members that left gracefully are removed, members
// that failed stay voters (so quorum arithmetic stays honest) unless
// DeadServerCleanup says otherwise.
//
// Leader-only work runs in one leader loop per term (Consul's leaderLoop): a barrier
// shows the new leader has applied every earlier term's entries, the term is
// established (consistent reads wait for it), and the leader subsystems are
// established in order (membership reconciliation, and what AddLeaderSubsystem adds:
// the deadline watcher and the dispatcher); if one cannot be, leadership is handed
// over. When leadership ends, they are revoked before anything else.
package cluster
