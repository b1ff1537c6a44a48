package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// config is the campaign's settings (flags, or CHAOS_* environment variables).
type config struct {
	duration time.Duration
	seed     uint64
	clients  int
	outDir   string
	bin      string
	keepData bool
}

func parseFlags(args []string, getenv func(string) string) (config, error) {
	cfg := config{duration: 150 * time.Second, clients: 8, seed: rand.Uint64() % 1_000_000}
	if v := getenv("CHAOS_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return cfg, fmt.Errorf("CHAOS_SEED=%q: %w", v, err)
		}
		cfg.seed = seed
	}
	if v := getenv("CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return cfg, fmt.Errorf("CHAOS_DURATION=%q: %w", v, err)
		}
		cfg.duration = d
	}
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.DurationVar(&cfg.duration, "duration", cfg.duration, "how long the workload runs while faults are injected [CHAOS_DURATION]")
	fs.Uint64Var(&cfg.seed, "seed", cfg.seed, "seed of every random choice; the same seed replays the same choices [CHAOS_SEED]")
	fs.IntVar(&cfg.clients, "clients", cfg.clients, "concurrent workload clients")
	fs.StringVar(&cfg.outDir, "out", getenv("CHAOS_OUT"), "output directory for logs and reports (default: a new temporary directory) [CHAOS_OUT]")
	fs.StringVar(&cfg.bin, "bin", "", "a coal-mine binary to run instead of building ./cmd/coal-mine")
	fs.BoolVar(&cfg.keepData, "keep-data", false, "keep the nodes' data directories")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.duration < 30*time.Second {
		return cfg, fmt.Errorf("-duration %v: at least 30s (faults start after %v and stop 10s before the end)", cfg.duration, warmup)
	}
	return cfg, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	os.Exit(runCampaign(cfg))
}

// Exit codes.
const (
	exitPass   = 0
	exitFailed = 1 // a check failed
	exitBroken = 2 // the campaign could not run
)

// runCampaign runs one campaign and returns the exit status. However it ends (checks
// done, Ctrl-C, a panic), the iptables rules are removed and the nodes stopped.
func runCampaign(cfg config) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	cp, err := setUp(ctx, cfg)
	if cp != nil {
		setCleanup(cp.emergencyStop)
		defer cp.tearDown()
	}
	defer crashGuard()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return exitBroken
	}
	run, err := cp.execute(ctx)
	if err != nil {
		cp.log.printf("campaign could not run: %v (seed %d, output %s)", err, cfg.seed, cp.outDir)
		return exitBroken
	}
	s := &summary{cfg: cfg, outDir: cp.outDir, elapsed: time.Since(started), run: run,
		results: Checks(run), avail: measureAvailability(run), fwNote: cp.fw.disabled}
	cp.save(run, s)
	s.write(os.Stdout)
	if s.failed() > 0 {
		return exitFailed
	}
	return exitPass
}
