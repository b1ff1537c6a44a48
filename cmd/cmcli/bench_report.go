package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// benchReport is what `cmcli bench` prints; with --json, as this JSON.
type benchReport struct {
	Target            string            `json:"target"` // "coal-mine" or "etcd"
	Node              string            `json:"node"`
	Keys              int               `json:"keys"` // canaries triggered, or etcd keys written
	Created           int               `json:"created"`
	Connections       int               `json:"connections"`
	Rate              float64           `json:"rate"` // requested rate; 0 is a closed loop
	WarmupSeconds     float64           `json:"warmup_seconds"`
	DurationSeconds   float64           `json:"duration_seconds"`
	Requests          int64             `json:"requests"`
	Errors            int64             `json:"errors"`
	ErrorsByKind      map[string]int64  `json:"errors_by_kind"`
	ErrorExamples     map[string]string `json:"error_examples,omitempty"`
	RequestsPerSecond float64           `json:"requests_per_second"`
	// LatencyMS is of the successful requests, in milliseconds; in an open loop it is
	// measured from when each request was due, so queueing behind a slow server counts.
	LatencyMS         latencySummary `json:"latency_ms"`
	ConnectionsOpened int64          `json:"connections_opened"`
	// ClientCPUCores is the CPU the load generator itself used (1.0: one core busy);
	// near the machine's core count, the client limits what is measured.
	ClientCPUCores float64 `json:"client_cpu_cores"`
}

type latencySummary struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

func newBenchReport(res *loadResult) benchReport {
	h := &res.latency
	r := benchReport{
		DurationSeconds:   round(res.elapsed.Seconds(), 3),
		Requests:          res.requests(),
		Errors:            res.errorCount(),
		ErrorsByKind:      res.errors,
		ErrorExamples:     res.examples,
		ConnectionsOpened: res.dials,
		LatencyMS: latencySummary{
			Min:  millis(h.min),
			Mean: millis(h.mean()),
			P50:  millis(h.percentile(0.50)),
			P90:  millis(h.percentile(0.90)),
			P99:  millis(h.percentile(0.99)),
			P999: millis(h.percentile(0.999)),
			Max:  millis(h.max),
		},
	}
	if res.elapsed > 0 {
		r.RequestsPerSecond = round(float64(r.Requests)/res.elapsed.Seconds(), 1)
		r.ClientCPUCores = round(res.cpu.Seconds()/res.elapsed.Seconds(), 2)
	}
	return r
}

func millis(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

func round(v float64, digits int) float64 {
	scale := math.Pow(10, float64(digits))
	return math.Round(v*scale) / scale
}

// writeHuman prints the report as a few aligned lines.
func (r benchReport) writeHuman(w io.Writer) error {
	keys := "canaries"
	if r.Target == benchTargetEtcd {
		keys = "keys"
	}
	loop := "closed loop"
	if r.Rate > 0 {
		loop = fmt.Sprintf("open loop at %g/s", r.Rate)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s at %s: %d %s, %s, %s\n", r.Target, r.Node, r.Keys, keys, count(r.Connections, "connection"), loop)
	warmup := ""
	if r.WarmupSeconds > 0 {
		warmup = fmt.Sprintf(" (after a %gs warm-up)", r.WarmupSeconds)
	}
	fmt.Fprintf(&b, "  duration   %.2fs%s\n", r.DurationSeconds, warmup)
	fmt.Fprintf(&b, "  requests   %d (%.1f/s), %s\n", r.Requests, r.RequestsPerSecond, count(int(r.ConnectionsOpened), "new connection"))
	fmt.Fprintf(&b, "  client     %.2f CPU cores used by this load generator\n", r.ClientCPUCores)
	fmt.Fprintf(&b, "  errors     %s\n", r.errorLine())
	l := r.LatencyMS
	fmt.Fprintf(&b, "  latency    p50 %s  p90 %s  p99 %s  max %s  (mean %s)\n",
		fmtMillis(l.P50), fmtMillis(l.P90), fmtMillis(l.P99), fmtMillis(l.Max), fmtMillis(l.Mean))
	kinds := sortedKinds(r.ErrorExamples)
	for _, kind := range kinds {
		if ex := r.ErrorExamples[kind]; ex != "" {
			fmt.Fprintf(&b, "  first %s: %.200s\n", kind, ex)
		}
	}
	_, err := io.WriteString(w, b.String())
	return ignoreBrokenPipe(err)
}

// errorLine is "0", or "5: HTTP 503 ×3, timeout ×2" (most frequent first).
func (r benchReport) errorLine() string {
	if r.Errors == 0 {
		return "0"
	}
	kinds := make([]string, 0, len(r.ErrorsByKind))
	for kind := range r.ErrorsByKind {
		kinds = append(kinds, kind)
	}
	sort.Slice(kinds, func(i, j int) bool {
		a, b := r.ErrorsByKind[kinds[i]], r.ErrorsByKind[kinds[j]]
		return a > b || a == b && kinds[i] < kinds[j]
	})
	parts := make([]string, len(kinds))
	for i, kind := range kinds {
		parts[i] = fmt.Sprintf("%s ×%d", kind, r.ErrorsByKind[kind])
	}
	return fmt.Sprintf("%d: %s", r.Errors, strings.Join(parts, ", "))
}

func sortedKinds(m map[string]string) []string {
	kinds := make([]string, 0, len(m))
	for kind := range m {
		kinds = append(kinds, kind)
	}
	sort.Strings(kinds)
	return kinds
}

// fmtMillis shows a latency with three significant digits: 0.412ms, 12.3ms, 1520ms.
func fmtMillis(ms float64) string {
	switch {
	case ms < 1:
		return fmt.Sprintf("%.3fms", ms)
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1fms", ms)
	default:
		return fmt.Sprintf("%.0fms", ms)
	}
}

// count is "1 connection", "2 connections".
func count(n int, noun string) string {
	return fmt.Sprintf("%d %s", n, plural(n, noun, noun+"s"))
}
