package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loadPlan is how hard and how long to load a target.
type loadPlan struct {
	duration time.Duration // 0: until requests are sent
	requests int64         // 0: until duration has passed
	rate     float64       // requests per second over all connections; 0: closed loop
}

// requestFunc builds the request that touches key number key (0 <= key < keys).
type requestFunc func(key int) (*http.Request, error)

// loadResult is what one phase of load measured.
type loadResult struct {
	elapsed  time.Duration
	latency  latencyHistogram // successful requests only
	errors   map[string]int64 // by kind: "HTTP 503", "timeout", ...
	examples map[string]string
	dials    int64         // TCP connections opened
	cpu      time.Duration // CPU time of this process meanwhile
}

func (r *loadResult) requests() int64 { return int64(r.latency.total) + r.errorCount() }

func (r *loadResult) errorCount() int64 {
	var n int64
	for _, c := range r.errors {
		n += c
	}
	return n
}

// loadGenerator owns one connection per client, kept across phases (warm-up, then the
// measured run) so the measured run starts on open connections. Every key's request is
// serialized once, before any load, so that building requests costs nothing under load.
type loadGenerator struct {
	conns    []*benchConn
	dials    atomic.Int64
	requests [][]byte
	next     atomic.Uint64 // the key counter: requests spread over keys round-robin
}

func newLoadGenerator(connections int, timeout time.Duration, keys int, build requestFunc) (*loadGenerator, error) {
	g := &loadGenerator{}
	var target wireRequest
	for key := range keys {
		req, err := build(key)
		if err != nil {
			return nil, fmt.Errorf("building the request for key %d: %w", key, err)
		}
		w, err := serializeRequest(req)
		if err != nil {
			return nil, err
		}
		if key == 0 {
			target = w
		} else if w.addr != target.addr || (w.tls == nil) != (target.tls == nil) {
			return nil, fmt.Errorf("%w: %s and %s", errMixedHosts, target.addr, w.addr)
		}
		g.requests = append(g.requests, w.bytes)
	}
	for range connections {
		g.conns = append(g.conns, &benchConn{addr: target.addr, tls: target.tls, timeout: timeout, dials: &g.dials})
	}
	return g, nil
}

// close drops the connections.
func (g *loadGenerator) close() {
	for _, c := range g.conns {
		c.close()
	}
}

// run sends load as plan says and measures it. Cancelling ctx ends the phase early;
// requests in flight then finish (their own timeout still applies).
func (g *loadGenerator) run(ctx context.Context, plan loadPlan) *loadResult {
	// The phase is timed from before its timer is armed: elapsed covers the duration.
	dialsBefore, cpuBefore := g.dials.Load(), processCPU()
	start := time.Now()
	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }
	if plan.duration > 0 {
		timer := time.AfterFunc(plan.duration, halt)
		defer timer.Stop()
	}
	go func() {
		select {
		case <-ctx.Done():
			halt()
		case <-stop:
		}
	}()
	defer halt()

	var budget atomic.Int64
	budget.Store(plan.requests)
	take := func() bool { // one more request allowed?
		return plan.requests == 0 || budget.Add(-1) >= 0
	}

	// An open loop schedules send times; each worker measures from the scheduled time,
	// so a server that falls behind shows its queueing in the latency (no coordinated
	// omission). A closed loop sends the next request when the last one is answered.
	var tickets chan time.Time
	if plan.rate > 0 {
		tickets = make(chan time.Time, len(g.conns))
		go schedule(plan.rate, tickets, stop, take)
	}

	results := make([]*loadResult, len(g.conns))
	var wg sync.WaitGroup
	for i, conn := range g.conns {
		results[i] = newLoadResult()
		wg.Add(1)
		go func(conn *benchConn, res *loadResult) {
			defer wg.Done()
			for {
				var sent time.Time
				if tickets != nil {
					at, ok := <-tickets
					if !ok {
						return
					}
					sent = at
				} else {
					select {
					case <-stop:
						return
					default:
					}
					if !take() {
						return
					}
					sent = time.Now()
				}
				g.once(conn, res, sent)
			}
		}(conn, results[i])
	}
	wg.Wait()

	total := newLoadResult()
	total.elapsed = time.Since(start)
	total.dials = g.dials.Load() - dialsBefore
	total.cpu = processCPU() - cpuBefore
	for _, r := range results {
		total.add(r)
	}
	return total
}

// schedule sends rate tickets per second, each the time its request is due, until
// stop closes or take refuses; then it closes tickets.
func schedule(rate float64, tickets chan<- time.Time, stop <-chan struct{}, take func() bool) {
	defer close(tickets)
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for i := int64(0); ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-stop:
				timer.Stop()
				return
			case <-timer.C:
			}
		}
		if !take() {
			return
		}
		select {
		case <-stop:
			return
		case tickets <- due:
		}
	}
}

// once sends one request and records how it went; sent is when it was due.
func (g *loadGenerator) once(conn *benchConn, res *loadResult, sent time.Time) {
	status, body, err := conn.do(g.requests[g.next.Add(1)%uint64(len(g.requests))])
	switch {
	case err != nil:
		res.fail(transportErrorKind(err), err.Error())
	case status != http.StatusOK:
		res.fail(fmt.Sprintf("HTTP %d", status), strings.TrimSpace(errorMessage(body)))
	default:
		res.latency.record(time.Since(sent))
	}
}

func newLoadResult() *loadResult {
	return &loadResult{errors: map[string]int64{}, examples: map[string]string{}}
}

func (r *loadResult) fail(kind, example string) {
	r.errors[kind]++
	if _, ok := r.examples[kind]; !ok {
		r.examples[kind] = example
	}
}

func (r *loadResult) add(other *loadResult) {
	r.latency.merge(&other.latency)
	for kind, n := range other.errors {
		r.errors[kind] += n
		if _, ok := r.examples[kind]; !ok {
			r.examples[kind] = other.examples[kind]
		}
	}
}
