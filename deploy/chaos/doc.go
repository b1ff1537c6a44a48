// Command chaos is coal-mine's own fault campaign. It builds cmd/coal-mine, starts three
// real nodes on loopback with an in-process SMTP sink, drives them with concurrent
// clients through random nodes while a seeded random schedule injects faults (kill -9 of
// a node and of the leader, SIGSTOP, partitions of one node's Raft and gossip ports,
// graceful restarts, leadership transfers, one whole-cluster restart), records every
// operation with its wall-clock start and end, and then checks what the cluster promises:
// nothing acknowledged lost or applied twice, real-time order, convergence, consistent
// reads that see every earlier acknowledged write, no 404 for a canary that exists,
// exactly one mail per LATE and RESUMED transition, no panic, every node started.
//
//	go run ./deploy/chaos -duration 150s -seed 42
//
// It exits 1 when a check fails and 2 when the campaign itself could not run. The seed
// is printed at the start and in the summary; the same seed replays the same choices
// of faults and operations (not the same timing). Node logs, the operation log and the
// summary are kept in the output directory it prints. See README.md.
package main
