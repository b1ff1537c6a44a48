package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"syscall"
	"time"
)

// injector injects one fault at a time, chosen by its seeded random source, on a cluster
// that is healthy before each one, so that at most one node is faulty at a time (but in
// the one whole-cluster restart of a run).
type injector struct {
	c   *cluster
	fw  *firewall
	rng *rand.Rand
	log *journal
	// No fault starts at or after end.
	end time.Time
	// The whole-cluster restart happens once, at the first fault due after restartAt.
	restartAt time.Time
	restarted bool
	// degraded, once set, says why only leadership transfers are injected from then on:
	// a node that did not come back must not be joined by a second faulty one.
	degraded string
}

// Fault timing.
const (
	warmup = 5 * time.Second
)

// weights of the kinds of faults, by kind.
var weights = []struct {
	kind FaultKind
	w    int
}{
	{FaultKill, 3}, {FaultKillLeader, 3}, {FaultPause, 3}, {FaultPartition, 3},
	{FaultRestart, 1}, {FaultTransfer, 2},
}

// between is a random duration in [lo, hi) seconds.
func (in *injector) between(lo, hi float64) time.Duration {
	return time.Duration((lo + in.rng.Float64()*(hi-lo)) * float64(time.Second))
}

func (in *injector) run(ctx context.Context) {
	defer crashGuard()
	pause(ctx, warmup)
	for ctx.Err() == nil && time.Now().Before(in.end) {
		if in.degraded == "" {
			in.c.reviveDead(ctx) // a node that died by itself: recorded, and brought back
		}
		if err := in.c.waitHealthy(ctx, healthyTimeout); err != nil && ctx.Err() == nil && in.degraded == "" {
			in.degrade(err.Error())
		}
		pause(ctx, in.between(1, 4))
		if ctx.Err() != nil || !time.Now().Before(in.end) {
			return
		}
		if !in.restarted && in.degraded == "" && !time.Now().Before(in.restartAt) {
			in.restarted = true
			in.clusterRestart(ctx)
			continue
		}
		in.inject(ctx, in.pick())
	}
}

func (in *injector) degrade(why string) {
	in.degraded = why
	in.log.printf("from now on only leadership transfers: %s", why)
}

// pick draws a kind of fault among those that may be injected now.
func (in *injector) pick() FaultKind {
	total := 0
	allowed := func(k FaultKind) bool {
		switch {
		case in.degraded != "":
			return k == FaultTransfer
		case k == FaultPartition:
			return in.fw.disabled == ""
		}
		return true
	}
	for _, w := range weights {
		if allowed(w.kind) {
			total += w.w
		}
	}
	x := in.rng.IntN(total)
	for _, w := range weights {
		if !allowed(w.kind) {
			continue
		}
		if x < w.w {
			return w.kind
		}
		x -= w.w
	}
	panic("unreachable")
}

func (in *injector) inject(ctx context.Context, kind FaultKind) {
	if kind == FaultTransfer {
		in.transfer(ctx)
		return
	}
	// Half the pauses and partitions hit the leader; a kill-leader always does.
	target := in.c.nodes[in.rng.IntN(len(in.c.nodes))]
	leaderWanted := kind == FaultKillLeader || ((kind == FaultPause || kind == FaultPartition) && in.rng.IntN(2) == 0)
	note := ""
	if leaderWanted {
		if l := in.awaitLeader(ctx); l != nil {
			target, note = l, "the leader"
		} else {
			note = "no leader found: a random node"
		}
	}
	f := Fault{Kind: kind, Node: target.name, Start: time.Now(), Note: note}
	in.log.printf("fault: %s %s %s", kind, target.name, note)
	var ok bool
	switch kind {
	case FaultKill, FaultKillLeader:
		target.kill()
		pause(ctx, in.between(1, 6))
		ok = in.bringBack(ctx, target, &f)
	case FaultRestart:
		in.c.terminate(target)
		pause(ctx, in.between(0.5, 3))
		ok = in.bringBack(ctx, target, &f)
	case FaultPause:
		ok = in.pauseNode(ctx, target, &f)
	case FaultPartition:
		ok = in.partition(ctx, target, &f)
	}
	f.End = time.Now()
	in.c.addFault(f)
	in.log.printf("healed: %s %s after %v %s", kind, target.name, f.End.Sub(f.Start).Round(time.Millisecond), f.Note)
	if !ok && ctx.Err() == nil {
		in.degrade(fmt.Sprintf("%s %s: %s", kind, target.name, f.Note))
	}
}

func (in *injector) awaitLeader(ctx context.Context) *node {
	var l *node
	_ = waitFor(ctx, 5*time.Second, 100*time.Millisecond, func() error {
		if l = in.c.leader(ctx); l == nil {
			return fmt.Errorf("no leader")
		}
		return nil
	})
	return l
}

func (in *injector) bringBack(ctx context.Context, n *node, f *Fault) bool {
	rec := in.c.start(ctx, n)
	f.Note = fmt.Sprintf("%s; start #%d ready after %v", f.Note, rec.N, rec.Took.Round(time.Millisecond))
	if !rec.Ready {
		f.Note = fmt.Sprintf("%s; start #%d FAILED: %s", f.Note, rec.N, rec.Err)
		return false
	}
	return true
}

func (in *injector) pauseNode(ctx context.Context, n *node, f *Fault) bool {
	if err := n.signal(syscall.SIGSTOP); err != nil {
		f.Note += "; " + err.Error()
		return false
	}
	stopped := time.Now()
	pause(ctx, in.between(1, 8))
	if err := n.signal(syscall.SIGCONT); err != nil {
		f.Note += "; " + err.Error()
		return false
	}
	f.Note += fmt.Sprintf("; stopped %v", time.Since(stopped).Round(time.Millisecond))
	return true
}

func (in *injector) partition(ctx context.Context, n *node, f *Fault) bool {
	var peers []*node
	for _, p := range in.c.nodes {
		if p != n {
			peers = append(peers, p)
		}
	}
	if err := in.fw.isolate(ctx, n, peers); err != nil {
		f.Note += "; " + err.Error()
		return false
	}
	isolated := time.Now()
	pause(ctx, in.between(2, 10))
	if err := in.fw.heal(ctx); err != nil {
		f.Note += "; heal: " + err.Error()
		return false
	}
	f.Note += fmt.Sprintf("; isolated %v", time.Since(isolated).Round(time.Millisecond))
	return true
}

// transfer asks a random node to hand leadership over; the node forwards it to the
// leader. It is not a node fault: every node stays up.
func (in *injector) transfer(ctx context.Context) {
	via := in.c.nodes[in.rng.IntN(len(in.c.nodes))]
	f := Fault{Kind: FaultTransfer, Start: time.Now()}
	if l := in.c.leader(ctx); l != nil {
		f.Node = l.name
	}
	ans, err := in.c.api.call(ctx, via, http.MethodPost, "/coal-mine/v1/cluster/transfer-leader", nil)
	f.End = time.Now()
	switch {
	case err != nil:
		f.Note = fmt.Sprintf("via %s: %v", via.name, err)
	case !ans.ok():
		f.Note = fmt.Sprintf("via %s: HTTP %d %s", via.name, ans.status, ans.errorText())
	default:
		f.Note = fmt.Sprintf("via %s: new leader %s", via.name, leaderIn(ans.body))
	}
	in.c.addFault(f)
	in.log.printf("fault: transfer-leader from %s %s (%v)", f.Node, f.Note, f.End.Sub(f.Start).Round(time.Millisecond))
}

// clusterRestart kills every node with SIGKILL at once and starts them all again.
func (in *injector) clusterRestart(ctx context.Context) {
	f := Fault{Kind: FaultCluster, Start: time.Now()}
	in.log.printf("fault: whole-cluster restart (kill -9 of every node)")
	in.c.killAll()
	down := in.between(1, 4)
	pause(ctx, down)
	ok := in.c.startAll(ctx, in.c.nodes)
	f.End = time.Now()
	f.Note = fmt.Sprintf("down %v, all ready after %v", down.Round(time.Millisecond), f.End.Sub(f.Start).Round(time.Millisecond))
	if !ok {
		f.Note = fmt.Sprintf("down %v, NOT every node came back", down.Round(time.Millisecond))
	}
	in.c.addFault(f)
	in.log.printf("healed: whole-cluster restart: %s", f.Note)
	if !ok && ctx.Err() == nil {
		in.degrade("a node did not come back after the whole-cluster restart")
	}
}
