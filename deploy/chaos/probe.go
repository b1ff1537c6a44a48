package main

import (
	"context"
	"sync"
	"time"
)

// The probe is an open-loop client, as cron jobs are: it starts a trigger every
// probeInterval, to a random node, whatever became of the ones before. The other
// clients send one request at a time, so a node stopped with SIGSTOP soon holds every
// one of them in a request that waits for SIGCONT, and no write is sent anywhere: the
// longest time without an acknowledged write would measure the clients, not the
// cluster. The probe keeps sending to the nodes that answer.

const (
	probeInterval = 50 * time.Millisecond
	probeInFlight = 64 // past this many unanswered triggers, a tick is skipped
)

func (c *client) runProbe(ctx context.Context) {
	defer crashGuard()
	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	slots := make(chan struct{}, probeInFlight)
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		target := c.reg.forTrigger(c.rng)
		if target == nil {
			continue
		}
		n, r := c.node(), c.prepareTrigger(target, c.pickWay("id", "short", "slug", "name"))
		select {
		case slots <- struct{}{}:
		default:
			continue
		}
		inFlight.Go(func() {
			defer crashGuard()
			defer func() { <-slots }()
			c.sendTrigger(ctx, n, r)
		})
	}
}
