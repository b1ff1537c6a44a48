package main

import (
	"context"
	"fmt"
	"time"
)

// Pulse canaries have a periodicity of a few seconds. A dedicated client triggers each
// one for a while, then stays silent for longer than its periodicity, then resumes, so
// that LATE and RESUMED transitions happen while faults are injected.

// pulsePeriods are the pulse canaries' periodicities, in seconds.
var pulsePeriods = []int{3, 4, 5, 6}

// runPulse drives one pulse canary until ctx ends. It is a client of its own (named
// p1, p2, ...), so that its tokens are unique and a slow request to a paused node holds
// up no other canary.
func (c *client) runPulse(ctx context.Context, target *canaryRef, period time.Duration) {
	defer crashGuard()
	for ctx.Err() == nil {
		// Report for two to five periods, a trigger every quarter to half period.
		alive := time.Now().Add(scale(period, 2+3*c.rng.Float64()))
		for ctx.Err() == nil && time.Now().Before(alive) {
			c.trigger(ctx, target, c.pickWay("id", "short", "slug", "name"))
			pause(ctx, scale(period, 0.25+c.rng.Float64()/4))
		}
		// Then miss the deadline by one to six seconds.
		pause(ctx, period+scale(time.Second, 1+5*c.rng.Float64()))
	}
}

// pulseName is the name of pulse canary i.
func pulseName(i, period int) string { return fmt.Sprintf("Chaos Pulse %d (every %ds)", i+1, period) }

// scale is d times f.
func scale(d time.Duration, f float64) time.Duration { return time.Duration(f * float64(d)) }
