package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// loadPlan is how hard and how long to load a target.
type loadPlan struct {
	duration time.Duration // 0: until requests are sent
	requests int64         // 0: until duration has passed
	rate     float64       // requests per second over all connections; 0: closed loop
}

// requestFunc builds the request that touches key number key (0 <= key < keys).
type requestFunc func(ctx context.Context, key int) (*http.Request, error)

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

// loadGenerator owns one HTTP client per connection, kept across phases (warm-up,
// then the measured run) so the measured run starts on open connections.
type loadGenerator struct {
	clients []*http.Client
	dials   atomic.Int64
	build   requestFunc
	keys    int
	next    atomic.Uint64 // the key counter: requests spread over keys round-robin
}

func newLoadGenerator(connections int, timeout time.Duration, keys int, build requestFunc) *loadGenerator {
	g := &loadGenerator{build: build, keys: keys}
	for range connections {
		g.clients = append(g.clients, &http.Client{Transport: g.transport(), Timeout: timeout})
	}
	return g
}

// transport is one keep-alive HTTP/1.1 connection: MaxConnsPerHost 1 so a client
// never opens a second one behind our back, no HTTP/2 (which would multiplex
// several workers onto one connection), no proxy from the environment.
func (g *loadGenerator) transport() *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			g.dials.Add(1)
			return dialer.DialContext(ctx, network, addr)
		},
		MaxConnsPerHost:     1,
		MaxIdleConns:        1,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
}

// close drops the idle connections.
func (g *loadGenerator) close() {
	for _, c := range g.clients {
		c.CloseIdleConnections()
	}
}

// run sends load as plan says and measures it. Cancelling ctx ends the phase early;
// requests in flight then finish (their own timeout still applies).
func (g *loadGenerator) run(ctx context.Context, plan loadPlan) *loadResult {
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
		tickets = make(chan time.Time, len(g.clients))
		go schedule(plan.rate, tickets, stop, take)
	}

	dialsBefore, cpuBefore := g.dials.Load(), processCPU()
	start := time.Now()
	results := make([]*loadResult, len(g.clients))
	var wg sync.WaitGroup
	for i, client := range g.clients {
		results[i] = newLoadResult()
		wg.Add(1)
		go func(client *http.Client, res *loadResult) {
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
				g.once(client, res, sent)
			}
		}(client, results[i])
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
func (g *loadGenerator) once(client *http.Client, res *loadResult, sent time.Time) {
	req, err := g.build(context.Background(), int(g.next.Add(1)%uint64(g.keys)))
	if err != nil {
		res.fail("request error", err.Error())
		return
	}
	resp, err := client.Do(req)
	if err != nil {
		res.fail(transportErrorKind(err), err.Error())
		return
	}
	var body []byte
	if resp.StatusCode == http.StatusOK {
		_, err = io.Copy(io.Discard, resp.Body)
	} else {
		body, err = io.ReadAll(io.LimitReader(resp.Body, 4096))
		_, _ = io.Copy(io.Discard, resp.Body) // keep the connection reusable
	}
	resp.Body.Close()
	switch {
	case err != nil:
		res.fail(transportErrorKind(err), err.Error())
	case resp.StatusCode != http.StatusOK:
		res.fail(fmt.Sprintf("HTTP %d", resp.StatusCode), strings.TrimSpace(errorMessage(body)))
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

// transportErrorKind names a failure that got no HTTP response.
func transportErrorKind(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	default:
		return "transport error"
	}
}
