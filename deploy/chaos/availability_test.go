package main

import (
	"testing"
	"time"
)

func TestAvailability(t *testing.T) {
	write := func(start, end, status int) Op {
		return Op{Kind: OpTrigger, Start: at(start), End: at(end), Status: status, OK: status == 200}
	}
	run := &Run{
		WorkStart: at(0), WorkEnd: at(20_000),
		Ops: []Op{
			write(0, 100, 200),
			write(100, 2_100, 503), // the outage of 4.9 s begins
			write(4_000, 5_000, 200),
			{Kind: OpCreate, Start: at(5_000), End: at(5_100), Error: "dial tcp 127.0.0.1:1: connect: connection refused"},
			write(10_000, 10_100, 200), // the cluster restart from 6 s to 11 s is left out
			write(11_000, 12_000, 200),
			{Kind: OpGet, Start: at(0), End: at(19_000), Status: 200, OK: true}, // reads do not count
			write(12_000, 20_000, 200),
		},
		Faults: []Fault{
			{Kind: FaultKillLeader, Node: "n1", Start: at(150), End: at(3_000)},
			{Kind: FaultCluster, Start: at(6_000), End: at(11_000)},
		},
	}
	a := measureAvailability(run)
	if a.Attempts != 7 || a.Acked != 5 || a.Refused != 1 {
		t.Fatalf("attempts %d acked %d refused %d, want 7, 5 and 1", a.Attempts, a.Acked, a.Refused)
	}
	if got := a.ReachedPercent(); got != 100*5.0/6 {
		t.Fatalf("reached percent %v, want 5 of 6", got)
	}
	if a.Longest != 8*time.Second || !a.From.Equal(at(12_000)) {
		t.Fatalf("longest %v from %v, want 8s from 12s (the gap 0.1-5 s is shorter)", a.Longest, a.From)
	}
	if a.ClusterRestartGap != 5100*time.Millisecond {
		t.Fatalf("cluster restart gap %v, want 5.1s", a.ClusterRestartGap)
	}
}
