package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"
)

const (
	benchTargetCoalMine = "coal-mine"
	benchTargetEtcd     = "etcd"
	// defaultEtcdNode is etcd's default client URL.
	defaultEtcdNode = "http://127.0.0.1:2379"
)

// benchOptions are the flags of `cmcli bench`.
type benchOptions struct {
	target      string
	node        string
	canaries    int
	prefix      string
	useExisting bool
	connections int
	duration    time.Duration
	requests    int64
	rate        float64
	warmup      time.Duration
	cleanup     bool
}

const benchLong = `Load a coal-mine node with triggers and measure what it sustains, for capacity
planning: requests per second, latency percentiles (p50, p90, p99, max) of the
successful requests and errors by kind (an HTTP status other than 200, or a
transport failure such as a timeout or a refused connection).

The load is what cron jobs send: short-URL triggers, GET /<id>, spread round-robin
over --canaries canaries named <prefix>1, <prefix>2, ... (created with a 30-day
periodicity when missing, so they never go late; --use-existing uses the canaries
that already have the prefix instead). Each of --connections clients keeps one
keep-alive HTTP/1.1 connection of its own. Without --rate each client sends its
next request as soon as the last is answered (a closed loop: the most the node
sustains at that concurrency); with --rate the requests are sent on a fixed
schedule and latency counts from when each was due, so a node that falls behind
shows it. A --warmup phase runs first and is not measured.

--target etcd sends the same load to etcd instead, as puts of keys <prefix><n>
through its v3 JSON gateway (POST /v3/kv/put), so that the two can be compared
with one tool. --node is then an etcd client URL (default ` + defaultEtcdNode + `).

--cleanup deletes the bench canaries (etcd: the keys with the prefix) and sends no
load. A run with errors still exits 0: the errors are part of its report.`

func newBenchCmd(a *app) *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the triggers per second and latency a node sustains",
		Long:  benchLong,
		Example: `  cmcli bench --node http://10.0.0.5:8080 --connections 32 --duration 30s
  cmcli bench --rate 2000 --duration 10m --use-existing
  cmcli bench --target etcd --node http://127.0.0.1:2379 --connections 32 --json
  cmcli bench --cleanup`,
		GroupID: groupOther,
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(cmd); err != nil {
				return err
			}
			target, node, err := a.benchTarget(cmd, o)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			if o.cleanup {
				return a.benchCleanup(ctx, target, o)
			}
			report, err := runBench(ctx, target, o, a.flags.timeout)
			if err != nil {
				return err
			}
			report.Target, report.Node = o.target, node
			return a.printBenchReport(report)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.target, "target", benchTargetCoalMine, "system to load: coal-mine or etcd")
	f.StringVar(&o.node, "node", "", "URL of the node to load (default: the configured server; for etcd "+defaultEtcdNode+")")
	f.IntVar(&o.canaries, "canaries", 1000, "canaries (etcd: keys) to spread the triggers over")
	f.StringVar(&o.prefix, "prefix", "bench-", "name prefix of the bench canaries (etcd: keys)")
	f.BoolVar(&o.useExisting, "use-existing", false, "trigger the canaries that already have the prefix (at most --canaries if given) and create none")
	f.IntVar(&o.connections, "connections", 32, "concurrent clients, each with its own keep-alive connection")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send load (0: until --requests are sent)")
	f.Int64Var(&o.requests, "requests", 0, "stop after this many requests (0: no limit)")
	f.Float64Var(&o.rate, "rate", 0, "requests per second over all connections, on a fixed schedule (0: as fast as answers come)")
	f.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before the measured run")
	f.BoolVar(&o.cleanup, "cleanup", false, "delete the bench canaries (etcd: keys) and exit")
	return cmd
}

func (o *benchOptions) validate(cmd *cobra.Command) error {
	switch {
	case o.target != benchTargetCoalMine && o.target != benchTargetEtcd:
		return usageErrorf("--target must be %s or %s, not %q", benchTargetCoalMine, benchTargetEtcd, o.target)
	case o.prefix == "":
		return usageErrorf("--prefix must not be empty: the bench must not touch other canaries")
	case o.cleanup:
		return nil
	case o.connections < 1:
		return usageErrorf("--connections must be at least 1")
	case o.canaries < 1 && !(o.useExisting && !cmd.Flags().Changed("canaries")):
		return usageErrorf("--canaries must be at least 1")
	case o.duration < 0 || o.requests < 0 || o.rate < 0 || o.warmup < 0:
		return usageErrorf("--duration, --requests, --rate and --warmup must not be negative")
	case o.duration == 0 && o.requests == 0:
		return usageErrorf("give a --duration or a number of --requests")
	}
	if o.useExisting && !cmd.Flags().Changed("canaries") {
		o.canaries = 0 // all that exist
	}
	return nil
}

// benchTarget builds the target and returns the URL of the node it loads.
func (a *app) benchTarget(cmd *cobra.Command, o benchOptions) (benchTarget, string, error) {
	var node *url.URL
	if o.node != "" {
		u, err := serverURL(o.node, 0)
		if err != nil {
			return nil, "", usageErrorf("--node: %w", err)
		}
		node = u
	}
	if o.target == benchTargetEtcd {
		if node == nil {
			node, _ = url.Parse(defaultEtcdNode)
		}
		return newEtcdTarget(node, o.prefix, o.canaries, a.flags.timeout), node.String(), nil
	}
	client, err := a.connection(cmd) // the auth key, and the node when --node is not given
	if err != nil {
		return nil, "", err
	}
	if node == nil {
		node = client.base
	}
	return newCoalMineTarget(node, client.authKey, o.prefix, o.canaries, o.useExisting, a.flags.timeout), node.String(), nil
}

// runBench prepares the target, warms up, then measures one run.
func runBench(ctx context.Context, target benchTarget, o benchOptions, timeout time.Duration) (benchReport, error) {
	keys, created, err := target.prepare(ctx)
	if err != nil {
		return benchReport{}, err
	}
	gen, err := newLoadGenerator(o.connections, timeout, keys, target.request)
	if err != nil {
		return benchReport{}, err
	}
	defer gen.close()
	if o.warmup > 0 {
		gen.run(ctx, loadPlan{duration: o.warmup, rate: o.rate})
	}
	res := gen.run(ctx, loadPlan{duration: o.duration, requests: o.requests, rate: o.rate})
	report := newBenchReport(res)
	report.Keys, report.Created = keys, created
	report.Connections, report.Rate = o.connections, o.rate
	report.WarmupSeconds = o.warmup.Seconds()
	return report, nil
}

func (a *app) printBenchReport(r benchReport) error {
	p := a.printer(nil, false)
	if p.mode == outputJSON {
		out, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encoding the report: %w", err)
		}
		return p.printJSON(out)
	}
	return r.writeHuman(p.out)
}

func (a *app) benchCleanup(ctx context.Context, target benchTarget, o benchOptions) error {
	removed, err := target.cleanup(ctx)
	if err != nil {
		return err
	}
	p := a.printer(nil, false)
	if p.mode == outputJSON {
		out, _ := json.Marshal(map[string]any{"status": "ok", "deleted": removed})
		return p.printJSON(out)
	}
	what := "canaries"
	if o.target == benchTargetEtcd {
		what = "keys"
	}
	p.printf("Deleted %d bench %s (prefix %q).\n", removed, what, o.prefix)
	return nil
}
