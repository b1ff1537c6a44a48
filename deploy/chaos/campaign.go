package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/coal-mine/coal-mine/alerting/smtpsink"
)

// campaign is one run: the cluster, its clients, and what they recorded.
type campaign struct {
	cfg     config
	outDir  string
	workDir string // binary and data directories, readable by the nodes' users
	log     *journal
	api     *api
	fw      *firewall
	c       *cluster
	sink    *smtpsink.Sink
	rec     *recorder
	reg     *registry
	pulses  []*canaryRef
}

// The cluster's auth key: every call but trigger carries it.
const authKey = "chaos-key"

// firstUID is the user of node 1 when the nodes run as users of their own (root only,
// for partitions); node i is firstUID+i-1.
const firstUID = 61001

// setUp makes the output and work directories, builds the binary, and prepares the
// sink, the firewall and the cluster (not started yet).
func setUp(ctx context.Context, cfg config) (*campaign, error) {
	cp := &campaign{cfg: cfg, rec: &recorder{}, reg: &registry{}, api: newAPI(authKey)}
	var err error
	if cp.outDir, err = makeDir(cfg.outDir, fmt.Sprintf("coal-mine-chaos-%d-", cfg.seed)); err != nil {
		return nil, err
	}
	events, err := os.Create(filepath.Join(cp.outDir, "events.log"))
	if err != nil {
		return nil, fmt.Errorf("events log: %w", err)
	}
	cp.log = &journal{start: time.Now(), w: io.MultiWriter(os.Stdout, events)}
	cp.log.printf("coal-mine chaos campaign: seed %d, workload %v, %d clients; output %s", cfg.seed, cfg.duration, cfg.clients, cp.outDir)
	if err := os.MkdirAll(filepath.Join(cp.outDir, "logs"), 0o755); err != nil {
		return cp, fmt.Errorf("logs directory: %w", err)
	}
	if cp.workDir, err = makeDir("", "coal-mine-chaos-work-"); err != nil {
		return cp, err
	}
	bin := cfg.bin
	if bin == "" {
		cp.log.printf("building ./cmd/coal-mine (CGO_ENABLED=0)")
		if bin, err = buildNode(ctx, cp.workDir); err != nil {
			return cp, err
		}
	}
	if cp.sink, err = smtpsink.Start("127.0.0.1:0"); err != nil {
		return cp, err
	}
	cp.fw = newFirewall(ctx, cp.log)
	spec := clusterSpec{size: 3, bin: bin, outDir: cp.workDir, sinkAddr: cp.sink.Addr(), authKey: authKey}
	if cp.fw.disabled == "" {
		spec.firstUID = firstUID
	}
	if cp.c, err = newCluster(spec, cp.api, cp.log); err != nil {
		return cp, err
	}
	// The nodes' logs go to the output directory, the rest of their files to workDir.
	for _, n := range cp.c.nodes {
		n.logDir = filepath.Join(cp.outDir, "logs")
		cp.log.printf("%s: http %d, raft %d, gossip %d, uid %d", n.name, n.httpPort, n.raftPort, n.gossipPort, n.uid)
	}
	return cp, nil
}

// makeDir creates dir, or a new temporary directory named by pattern, readable by the
// nodes' users.
func makeDir(dir, pattern string) (string, error) {
	var err error
	if dir == "" {
		dir, err = os.MkdirTemp("", pattern)
	} else {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return "", fmt.Errorf("directory: %w", err)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return "", fmt.Errorf("directory: %w", err)
	}
	return dir, os.Chmod(dir, 0o755)
}

// execute starts the cluster, runs the workload and the faults for the duration, and
// collects the final state.
func (cp *campaign) execute(ctx context.Context) (*Run, error) {
	cp.log.printf("starting %d nodes", len(cp.c.nodes))
	if !cp.c.startAll(ctx, cp.c.nodes) {
		return nil, errors.New("the cluster did not start; see the node logs")
	}
	if err := cp.createCanaries(ctx); err != nil {
		return nil, err
	}
	run := &Run{WorkStart: time.Now()}
	workCtx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	var clients sync.WaitGroup
	for i := range cp.cfg.clients {
		c := cp.newClient(fmt.Sprintf("c%d", i+1), uint64(i+1))
		clients.Go(func() { c.run(workCtx) })
	}
	probe := cp.newClient("o", 99)
	clients.Go(func() { probe.runProbe(workCtx) })
	for i, p := range cp.pulses {
		c := cp.newClient(fmt.Sprintf("p%d", i+1), uint64(100+i))
		period := time.Duration(pulsePeriods[i]) * time.Second
		clients.Go(func() { c.runPulse(workCtx, p, period) })
	}
	rng := rand.New(rand.NewPCG(cp.cfg.seed, 1000))
	in := &injector{c: cp.c, fw: cp.fw, rng: rng, log: cp.log,
		end:       run.WorkStart.Add(cp.cfg.duration - 10*time.Second),
		restartAt: run.WorkStart.Add(scale(cp.cfg.duration, 0.35+0.3*rng.Float64())),
	}
	cp.log.printf("workload: %d clients, an open-loop probe, %d pulse clients; faults from %v, whole-cluster restart after %v",
		cp.cfg.clients, len(cp.pulses), warmup, in.restartAt.Sub(run.WorkStart).Round(time.Second))
	faultsDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		in.run(ctx)
	}()
	pause(ctx, cp.cfg.duration)
	<-faultsDone // the last fault heals while the workload goes on
	stopWork()
	clients.Wait()
	run.WorkEnd = time.Now()
	if ctx.Err() != nil {
		return nil, errors.New("interrupted")
	}
	cp.log.printf("workload stopped: %d operations", len(cp.rec.all()))
	return cp.collect(ctx, run)
}

func (cp *campaign) newClient(name string, stream uint64) *client {
	return &client{name: name, rng: rand.New(rand.NewPCG(cp.cfg.seed, stream)), api: cp.api,
		nodes: cp.c.nodes, reg: cp.reg, rec: cp.rec}
}

// createCanaries makes the first regular canaries and the pulse canaries, each through
// a random node, retried under a new name until one create is acknowledged.
func (cp *campaign) createCanaries(ctx context.Context) error {
	setup := cp.newClient("s", 0)
	create := func(name string, periodicity int, pulse bool) error {
		attempt := 0
		return waitFor(ctx, 30*time.Second, 100*time.Millisecond, func() error {
			attempt++
			full := name
			if attempt > 1 {
				full = fmt.Sprintf("%s try %d", name, attempt)
			}
			if !setup.createCanary(ctx, full, periodicity, pulse) {
				return fmt.Errorf("create %q not acknowledged", full)
			}
			return nil
		})
	}
	for i := range hotCanaries {
		if err := create(fmt.Sprintf("Chaos Hot %d Backup.Job", i+1), 3600, false); err != nil {
			return err
		}
	}
	for i, period := range pulsePeriods {
		if err := create(pulseName(i, period), period, true); err != nil {
			return err
		}
	}
	for _, c := range cp.reg.all {
		if c.pulse {
			cp.pulses = append(cp.pulses, c)
		}
	}
	cp.log.printf("created %d canaries (%d pulse canaries)", len(cp.reg.all), len(cp.pulses))
	return nil
}

// collect heals the cluster, stops the pulse canaries, waits for convergence and mail,
// stops the nodes with SIGTERM, and gathers what the checks read.
func (cp *campaign) collect(ctx context.Context, run *Run) (*Run, error) {
	cp.log.printf("healing: partitions removed, paused nodes continued, dead nodes started")
	if err := cp.heal(ctx); err != nil {
		cp.log.printf("heal: %v", err)
	}
	if err := cp.pausePulses(ctx, cp.newClient("final", 999)); err != nil {
		cp.log.printf("pausing the pulse canaries: %v", err)
	}
	run.Finals, run.Converged, run.Divergence = cp.converge(ctx)
	cp.log.printf("converged: %v %s", run.Converged, run.Divergence)
	run.Ops = cp.rec.all()
	if err := cp.settleMail(ctx, run); err != nil {
		return nil, err
	}
	cp.log.printf("mail: %d distinct messages, %d resends", len(run.Mails), run.Duplicates)
	cp.log.printf("stopping every node with SIGTERM")
	cp.c.terminateAll()
	cp.c.mu.Lock()
	run.Faults, run.Starts, run.Stops, run.Deaths = cp.c.faults, cp.c.starts, cp.c.stops, cp.c.deaths
	cp.c.mu.Unlock()
	var err error
	if run.Findings, err = scanLogs(filepath.Join(cp.outDir, "logs")); err != nil {
		return nil, err
	}
	return run, nil
}

// save writes the records and the summary into the output directory.
func (cp *campaign) save(run *Run, s *summary) {
	for name, err := range map[string]error{
		"ops.jsonl":    writeJSONL(filepath.Join(cp.outDir, "ops.jsonl"), run.Ops),
		"faults.jsonl": writeJSONL(filepath.Join(cp.outDir, "faults.jsonl"), run.Faults),
		"starts.jsonl": writeJSONL(filepath.Join(cp.outDir, "starts.jsonl"), run.Starts),
		"stops.jsonl":  writeJSONL(filepath.Join(cp.outDir, "stops.jsonl"), run.Stops),
		"mails.jsonl":  writeJSONL(filepath.Join(cp.outDir, "mails.jsonl"), run.Mails),
		"deaths.jsonl": writeJSONL(filepath.Join(cp.outDir, "deaths.jsonl"), run.Deaths),
	} {
		if err != nil {
			cp.log.printf("%s: %v", name, err)
		}
	}
	for name, write := range map[string]func(io.Writer){
		"summary.txt":    s.write,
		"violations.txt": func(w io.Writer) { writeViolations(w, s.results) },
	} {
		f, err := os.Create(filepath.Join(cp.outDir, name))
		if err != nil {
			cp.log.printf("%s: %v", name, err)
			continue
		}
		write(f)
		if err := f.Close(); err != nil {
			cp.log.printf("%s: %v", name, err)
		}
	}
}

// emergencyStop is the cleanup that must run however the campaign ends: no rule left in
// iptables, no node left running.
func (cp *campaign) emergencyStop() {
	if cp.fw != nil {
		if err := cp.fw.heal(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "chaos: removing iptables rules:", err)
		}
	}
	if cp.c != nil {
		for _, n := range cp.c.nodes {
			_ = n.signal(syscall.SIGCONT)
			n.kill()
		}
	}
}

func (cp *campaign) tearDown() {
	cleanup()
	if cp.sink != nil {
		cp.sink.Close()
	}
	if cp.workDir == "" {
		return
	}
	if cp.cfg.keepData {
		cp.log.printf("data directories kept in %s", cp.workDir)
		return
	}
	if err := os.RemoveAll(cp.workDir); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: remove work directory:", err)
	}
}
