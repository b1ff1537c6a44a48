package cluster

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

// BenchmarkLeaderFailover measures, on a 3-node loopback cluster with the
// production Raft timings, the time from a hard kill of the leader to a new
// leader among the survivors. Each iteration restarts the killed node and
// waits for it to catch up before the next kill. Run it with a count:
//
//	go test -run '^$' -bench LeaderFailover -benchtime 7x ./cluster/
func BenchmarkLeaderFailover(b *testing.B) {
	c := newTestCluster(b, 3, nil)
	c.waitLeader(formTimeout)
	var samples []time.Duration
	for i := 0; b.Loop(); i++ {
		old := c.waitLeader(failoverTimeout)
		survivors := c.followers(old)
		killed := time.Now()
		c.kill(old)
		c.waitLeader(failoverTimeout, survivors...)
		samples = append(samples, time.Since(killed))

		c.start(old)
		leader := c.waitLeader(failoverTimeout)
		key := "round"
		value := time.Now().String()
		apply(b, leader.node, key, value)
		waitValue(b, syncTimeout, key, value, c.nodes...)
	}
	slices.Sort(samples)
	median := samples[len(samples)/2]
	b.ReportMetric(float64(median.Milliseconds()), "ms-failover-median")
	b.ReportMetric(float64(samples[len(samples)-1].Milliseconds()), "ms-failover-max")
	b.Logf("failover times (sorted): %v", samples)
}

// BenchmarkApplySingleNode measures committed (fsynced) writes per second on
// one node, with few and with many concurrent proposers, whose
// Applies raft batches into shared log writes.
func BenchmarkApplySingleNode(b *testing.B) {
	n, err := New(b.Context(), singleNodeConfig(b, b.TempDir()), testkit.NewKV())
	if err != nil {
		b.Fatal(err)
	}
	defer n.Shutdown()
	if err := n.WaitLeader(ctxTimeout(b, 10*time.Second)); err != nil {
		b.Fatal(err)
	}
	cmd := testkit.SetCmd("k", "v")
	for _, perCPU := range []int{1, 16} {
		b.Run(fmt.Sprintf("proposers=%d", perCPU*runtime.GOMAXPROCS(0)), func(b *testing.B) {
			b.SetParallelism(perCPU)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := n.Apply(b.Context(), cmd); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
