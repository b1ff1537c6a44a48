package main

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Go's collector lets the heap grow to twice what is live before it collects again
// (GOGC=100). That headroom is negligible for a few thousand canaries and large for a
// million: with 600-750 MB live, nodes reached 1.55 GB resident during an import. The
// headroom is now capped at gcHeadroom: past 512 MB live, GOGC falls so that the heap
// goal is about live + 512 MB (never below gcMinPercent), at the cost of collecting
// more often. An operator who sets GOGC or GOMEMLIMIT decides alone.
const (
	gcHeadroom     = 512 << 20
	gcMinPercent   = 25
	gcTuneInterval = time.Second
)

// gcPercent is the GOGC that gives a heap of live bytes at most gcHeadroom to grow into.
func gcPercent(live uint64) int {
	if live <= gcHeadroom {
		return 100
	}
	return max(gcMinPercent, int(100*gcHeadroom/live))
}

// tuneGC adjusts GOGC to the live heap until ctx ends.
func tuneGC(ctx context.Context, logger *slog.Logger) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		logger.Info("GOGC or GOMEMLIMIT is set: the collector is left as configured")
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	current := 100
	ticker := time.NewTicker(gcTuneInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return // an older runtime without the metric
		}
		// Move in steps of 5 or more, so that a heap near the threshold does not make
		// every tick set GOGC.
		if want := gcPercent(sample[0].Value.Uint64()); want >= current+5 || want <= current-5 || (want == 100 && current != 100) {
			debug.SetGCPercent(want)
			current = want
		}
	}
}
