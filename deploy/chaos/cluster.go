package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// cluster is the campaign's three nodes and what happened to them.
type cluster struct {
	nodes []*node
	api   *api
	log   *journal

	mu     sync.Mutex
	faults []Fault
	starts []StartRecord
	stops  []StopRecord
	deaths []DeathRecord
}

// Bounds on waiting for nodes.
const (
	readyTimeout   = 30 * time.Second
	shutdownGrace  = 20 * time.Second
	healthyTimeout = 30 * time.Second
)

// clusterSpec is what newCluster needs.
type clusterSpec struct {
	size     int
	bin      string
	outDir   string
	sinkAddr string
	authKey  string
	// firstUID, when not 0, makes node i run as user firstUID+i.
	firstUID int
}

func newCluster(spec clusterSpec, a *api, log *journal) (*cluster, error) {
	ports := newPortPicker()
	c := &cluster{api: a, log: log}
	for i := range spec.size {
		n := &node{name: fmt.Sprintf("n%d", i+1), bin: spec.bin, logDir: filepath.Join(spec.outDir, "logs")}
		for _, p := range []*int{&n.httpPort, &n.raftPort, &n.gossipPort} {
			port, err := ports.pick()
			if err != nil {
				return nil, err
			}
			*p = port
		}
		n.dir = filepath.Join(spec.outDir, "nodes", n.name)
		if spec.firstUID != 0 {
			n.uid = spec.firstUID + i
		}
		if err := makeNodeDir(n.dir, n.uid); err != nil {
			return nil, err
		}
		n.onDeath = c.died
		c.nodes = append(c.nodes, n)
	}
	var join []string
	for _, n := range c.nodes {
		join = append(join, n.gossipAddr())
	}
	host, port, _ := strings.Cut(spec.sinkAddr, ":")
	for _, n := range c.nodes {
		n.args = []string{
			"--node-id", n.name,
			"--port", fmt.Sprint(n.httpPort),
			"--bind", "127.0.0.1",
			"--data-dir", filepath.Join(n.dir, "data"),
			"--raft-addr", n.raftAddr(),
			"--gossip-addr", n.gossipAddr(),
			"--join", strings.Join(join, ","),
			"--bootstrap-expect", fmt.Sprint(spec.size),
			"--email-sender", "coal-mine-chaos@example.org",
			"--smtp-host", host,
			"--smtp-port", port,
		}
		n.env = nodeEnv(spec.authKey)
	}
	return c, nil
}

// nodeEnv is the campaign's environment without any coal-mine setting of the
// developer's, plus the auth key.
func nodeEnv(authKey string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "COAL_MINE_"), strings.HasPrefix(name, "WSGI_"),
			strings.HasPrefix(name, "SMTP_"), name == "EMAIL_SENDER", name == "MONGODB_URI",
			name == "GOGC", name == "GOMEMLIMIT":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "WSGI_AUTH_KEY="+authKey)
}

func makeNodeDir(dir string, uid int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("node directory: %w", err)
	}
	if uid != 0 {
		if err := os.Chown(dir, uid, uid); err != nil {
			return fmt.Errorf("node directory: %w", err)
		}
	}
	return nil
}

func (c *cluster) byName(name string) *node {
	for _, n := range c.nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

// start launches a node and waits until it is ready, recording the start.
func (c *cluster) start(ctx context.Context, n *node) StartRecord {
	rec := c.launch(n)
	if rec.Err == "" {
		c.awaitReady(ctx, n, &rec, readyTimeout)
	}
	c.record(rec)
	return rec
}

func (c *cluster) launch(n *node) StartRecord {
	rec := StartRecord{Node: n.name, At: time.Now()}
	logFile, err := n.launch()
	rec.LogFile, rec.N = logFile, n.starts
	if err != nil {
		rec.Err = err.Error()
	}
	return rec
}

func (c *cluster) awaitReady(ctx context.Context, n *node, rec *StartRecord, timeout time.Duration) {
	err := n.waitReady(ctx, c.api, timeout)
	rec.Took = time.Since(rec.At)
	if err != nil {
		rec.Err = err.Error()
		if ctx.Err() != nil {
			rec.Err += " (campaign interrupted)"
		}
		c.log.printf("%s start #%d FAILED: %v; log %s ends:\n%s", n.name, rec.N, err, rec.LogFile, indent(tail(rec.LogFile, 8)))
		return
	}
	rec.Ready = true
	c.log.printf("%s start #%d ready after %v", n.name, rec.N, rec.Took.Round(time.Millisecond))
}

func (c *cluster) record(rec StartRecord) {
	if strings.HasSuffix(rec.Err, "(campaign interrupted)") {
		return // not the node's fault
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.starts = append(c.starts, rec)
}

// startAll launches the given nodes together (none is ready before a quorum is up) and
// waits for each.
func (c *cluster) startAll(ctx context.Context, nodes []*node) bool {
	recs := make([]StartRecord, len(nodes))
	for i, n := range nodes {
		recs[i] = c.launch(n)
	}
	allReady := true
	for i, n := range nodes {
		if recs[i].Err == "" {
			c.awaitReady(ctx, n, &recs[i], 2*readyTimeout)
		}
		c.record(recs[i])
		allReady = allReady && recs[i].Ready
	}
	return allReady
}

// terminate stops a node with SIGTERM and records how long it took.
func (c *cluster) terminate(n *node) StopRecord {
	rec := n.terminate(shutdownGrace)
	c.log.printf("%s stopped by SIGTERM in %v (killed: %v)", n.name, rec.Took.Round(time.Millisecond), rec.Killed)
	c.mu.Lock()
	c.stops = append(c.stops, rec)
	c.mu.Unlock()
	return rec
}

// terminateAll stops every running node with SIGTERM at once, as `docker compose down`.
func (c *cluster) terminateAll() {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		if n.running() {
			wg.Go(func() { c.terminate(n) })
		}
	}
	wg.Wait()
}

func (c *cluster) killAll() {
	for _, n := range c.nodes {
		n.kill()
	}
}

// died records a node process that exited by itself.
func (c *cluster) died(d DeathRecord) {
	c.log.printf("%s (start #%d) EXITED by itself: %s; log %s ends:\n%s", d.Node, d.N, d.Err, d.LogFile, indent(tail(d.LogFile, 8)))
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deaths = append(c.deaths, d)
}

// reviveDead starts again every node that is down, having died by itself.
func (c *cluster) reviveDead(ctx context.Context) {
	for _, n := range c.nodes {
		if !n.running() && ctx.Err() == nil {
			c.log.printf("%s is down: starting it again", n.name)
			c.start(ctx, n)
		}
	}
}

func (c *cluster) addFault(f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = append(c.faults, f)
}

// leader asks every running node once and returns the one in the leader state.
func (c *cluster) leader(ctx context.Context) *node {
	for _, n := range c.nodes {
		if !n.running() {
			continue
		}
		if s, err := c.api.status(ctx, n); err == nil && s.State == "leader" {
			return n
		}
	}
	return nil
}

// healthy tells whether every node runs and answers /readyz with 200.
func (c *cluster) healthy(ctx context.Context) bool {
	for _, n := range c.nodes {
		if !n.running() || c.api.probe(ctx, n, "/readyz") != 200 {
			return false
		}
	}
	return true
}

// waitHealthy waits until healthy, or timeout.
func (c *cluster) waitHealthy(ctx context.Context, timeout time.Duration) error {
	return waitFor(ctx, timeout, 200*time.Millisecond, func() error {
		if c.healthy(ctx) {
			return nil
		}
		var bad []string
		for _, n := range c.nodes {
			switch {
			case !n.running():
				bad = append(bad, n.name+" down")
			case c.api.probe(ctx, n, "/readyz") != 200:
				bad = append(bad, n.name+" not ready")
			}
		}
		return fmt.Errorf("cluster not healthy: %s", strings.Join(bad, ", "))
	})
}

// waitFor retries check every interval until it returns nil, ctx ends, or timeout; it
// returns check's last error then.
func waitFor(ctx context.Context, timeout, interval time.Duration, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (after %v)", err, timeout)
		case <-tick.C:
		}
	}
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
