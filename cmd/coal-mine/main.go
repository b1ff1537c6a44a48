// Command coal-mine runs one node of a coal-mine cluster: a Raft-replicated monitor for
// periodic tasks, compatible with Coal Mine's API. With no settings at all it runs a
// single node on port 8080 with its data in ./coal-mine-data.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/coal-mine/coal-mine/alerting"
	"github.com/coal-mine/coal-mine/cluster"
	"github.com/coal-mine/coal-mine/fsm"
	"github.com/coal-mine/coal-mine/fsm/propose"
	"github.com/coal-mine/coal-mine/http"
	nethttp "net/http"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// keygenCommand prints a new cluster key.
const keygenCommand = "keygen"

func main() {
	if len(os.Args) > 1 && os.Args[1] == keygenCommand {
		fmt.Println(cluster.NewClusterKey())
		return
	}
	if len(os.Args) > 1 && os.Args[1] == initSecretsCommand {
		if err := initSecrets(os.Args[2:], os.Stdout); err != nil && !errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "coal-mine:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == repairLogCommand {
		if err := repairLog(os.Args[2:], os.Getenv, os.Stdout); err != nil {
			if errors.Is(err, pflag.ErrHelp) {
				return
			}
			fmt.Fprintln(os.Stderr, "coal-mine:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := loadConfig(os.Args[1:], os.Getenv)
	if errors.Is(err, pflag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "coal-mine:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "coal-mine:", err)
		os.Exit(1)
	}
}

// run starts the node and blocks until ctx is cancelled (SIGTERM), then shuts down in the
// reverse order: stop taking requests, stop leader work, hand over leadership and leave,
// stop Raft.
func run(ctx context.Context, cfg Config) error {
	logger, logCloser, err := newLogger(cfg)
	if err != nil {
		return err
	}
	defer logCloser.Close()
	for _, w := range cfg.Warnings {
		logger.Warn(w)
	}
	if len(cfg.Files) > 0 {
		logger.Info("read configuration", "files", cfg.Files)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	go tuneGC(ctx, logger)

	keys, err := cfg.clusterKeys()
	if err != nil {
		return err
	}
	var nodeTLS cluster.TLSFiles
	if cfg.TLSCAFile != "" {
		nodeTLS = cluster.TLSFiles{CAFile: cfg.TLSCAFile, CertFile: cfg.TLSCertFile, KeyFile: cfg.TLSKeyFile}
	}
	var certs *certReloader
	if cfg.TLSCertFile != "" {
		if certs, err = newCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile); err != nil {
			return err
		}
	}
	serverTLS, err := apiTLS(cfg, certs)
	if err != nil {
		return err
	}
	forwardTLS, err := leaderTLS(cfg, certs)
	if err != nil {
		return err
	}

	state := fsm.New()
	node, err := cluster.New(ctx, cluster.Config{
		NodeID:            cfg.NodeID,
		DataDir:           cfg.DataDir,
		RaftAddr:          cfg.RaftAddr,
		RaftAdvertise:     cfg.RaftAdvertise,
		GossipAddr:        cfg.GossipAddr,
		GossipAdvertise:   cfg.GossipAdvertise,
		HTTPAddr:          httpAdvertise(cfg),
		Join:              cfg.Join,
		BootstrapExpect:   cfg.BootstrapExpect,
		Version:           version,
		DeadServerCleanup: cfg.DeadServerCleanup,
		Logger:            logger,
		Keys:              keys,
		TLS:               nodeTLS,
		Insecure:          cfg.InsecureCluster,
	}, state)
	if err != nil {
		return explainStartError(fmt.Errorf("start cluster node: %w", err), cfg)
	}
	defer node.Shutdown()

	// The one write path: on the leader it commits, on a follower it relays to the
	// leader over the nodes' RPC, where the leader's proposer takes the batch.
	proposer := propose.New(node, propose.Options{})
	defer proposer.Close()
	node.HandleForwarded(proposer.ServeForwarded)

	alerts := alerting.New(alerting.Config{
		Store: state,
		// The leader's own commands queue behind the clients' (Proposer.Background).
		Proposer:          proposer.Background(),
		Notifier:          notifier(cfg, logger),
		Sender:            cfg.EmailSender,
		Logger:            logger,
		AdminEmails:       cfg.AdminEmails,
		OutageAfter:       cfg.OutageAfter,
		PublicURL:         cfg.PublicURL,
		HeartbeatURL:      cfg.HeartbeatURL,
		HeartbeatInterval: cfg.HeartbeatInterval,
		Members:           voters(node),
		HandOver:          func(ctx context.Context) error { return node.TransferLeadership(ctx, "") },
	})
	// The deadline watcher and the dispatcher run on the leader only, in its leader loop.
	node.AddLeaderSubsystem(alerts)

	listener, err := net.Listen("tcp", net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen for HTTP: %w", err)
	}
	warnings := settingWarnings(cfg, listener.Addr())
	logWarnings(logger, warnings)
	registry := newRegistry(append(alerts.Collectors(), node.Collector(), stateCollector{state: state, now: time.Now})...)
	handler := http.NewHandler(http.Config{
		Registry:      registry,
		AuthKey:       cfg.AuthKey,
		ReadOnlyKey:   cfg.ReadOnlyKey,
		Warnings:      warnings,
		Store:         state,
		Writer:        proposer,
		Cluster:       clusterAPI{node},
		Channels:      alerts,
		Logger:        logger,
		ForwardClient: http.NewForwardClient(forwardTLS),
		PublicURL:     cfg.PublicURL,
		PublicBadges:  cfg.PublicBadges,
		Version:       version,
	})
	server := http.NewServer(listener.Addr().String(), handler)
	server.TLSConfig = serverTLS
	serveDone := make(chan error, 1)
	go func() {
		if serverTLS != nil {
			serveDone <- server.ServeTLS(listener, "", "")
			return
		}
		serveDone <- server.Serve(listener)
	}()
	if certs != nil {
		go reloadOnSIGHUP(ctx, certs, logger)
	}
	if cfg.DebugAddr != "" {
		go serveDebug(cfg.DebugAddr, cfg.AuthKey, logger)
	}
	logger.Info("coal-mine started", "version", version, "http", listener.Addr().String(), "https", serverTLS != nil,
		"raft", cfg.RaftAddr, "data_dir", cfg.DataDir, "auth", cfg.AuthKey != "", "cluster_key", len(keys) > 0, "email", cfg.EmailSender != "")

	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-serveDone:
		return fmt.Errorf("HTTP server: %w", err)
	}

	return shutdown(logger, server, node, proposer)
}

// The shutdown budget: SIGTERM ends the process within 5 s, whatever state the cluster is
// in (systemd, Kubernetes and docker stop all kill after a grace period, and an operator
// restarting a node waits for it). exitBudget leaves half a second of that for the exit
// itself on a loaded machine: at exactly 5 s, a node whose raft hung was seen to end
// 5.008 s after the signal. In-flight requests get drainBudget; handing
// over leadership and leaving the cluster get what remains up to leaveBudget; raft's own
// shutdown gets the rest. raft can park in its replication pipeline and never return
// from Shutdown (grafana/pyroscope#5518 shows the same hashicorp/raft deadlock): past the
// budget the process exits anyway, which is as safe as a crash (every acknowledged write
// is on disk).
const (
	exitBudget  = 4500 * time.Millisecond
	drainBudget = time.Second
	leaveBudget = 3500 * time.Millisecond
)

func shutdown(logger *slog.Logger, server *nethttp.Server, node *cluster.Node, proposer interface{ Close() }) error {
	start := time.Now()
	exitBy := start.Add(exitBudget)
	done := make(chan error, 1)
	go func() {
		drainCtx, cancel := context.WithDeadline(context.Background(), start.Add(drainBudget))
		if err := server.Shutdown(drainCtx); err != nil {
			logger.Warn("HTTP shutdown: requests still running were cut", "err", err)
		}
		cancel()
		// Leaving hands leadership over, which revokes the leader's alerting.
		leaveCtx, cancel := context.WithDeadline(context.Background(), start.Add(leaveBudget))
		if err := node.Leave(leaveCtx); err != nil {
			logger.Warn("leave cluster", "err", err)
		}
		cancel()
		// The node first, which revokes leader-only work still proposing (a lone node
		// leads to the end); then the proposer, whose last proposals fail.
		err := node.Shutdown()
		proposer.Close()
		if err != nil {
			done <- fmt.Errorf("stop raft: %w", err)
			return
		}
		done <- nil
	}()
	timer := time.NewTimer(time.Until(exitBy))
	defer timer.Stop()
	select {
	case err := <-done:
		if err == nil {
			logger.Info("stopped", "took", time.Since(start).Round(time.Millisecond))
		}
		return err
	case <-timer.C:
		// Not a return: run's deferred closes would wait for the very shutdown that hangs.
		logger.Error("shutdown did not finish in time: exiting anyway (every acknowledged write is on disk)", "budget", exitBudget)
		os.Exit(1)
		return nil
	}
}

// reloadOnSIGHUP loads the API's certificate again on every SIGHUP, until ctx ends.
func reloadOnSIGHUP(ctx context.Context, certs *certReloader, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := certs.reload(); err != nil {
				logger.Error("SIGHUP: the API's certificate was not reloaded: still serving the one in use", "err", err)
				continue
			}
			logger.Info("SIGHUP: reloaded the API's certificate", "cert_file", certs.certFile)
		}
	}
}

// httpAdvertise is the address other nodes forward writes to: explicit, or the Raft
// advertise host with the HTTP port.
func httpAdvertise(cfg Config) string {
	if cfg.HTTPAdvertise != "" {
		return cfg.HTTPAdvertise
	}
	raftAddr := cfg.RaftAdvertise
	if raftAddr == "" {
		raftAddr = cfg.RaftAddr
	}
	host, _, err := net.SplitHostPort(raftAddr)
	if err != nil || host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(cfg.Port))
}

// voters lists the Raft voters and whether gossip sees each alive, for the leader's
// member events.
func voters(node *cluster.Node) func() []alerting.Member {
	return func() []alerting.Member {
		var out []alerting.Member
		for _, m := range node.Status().Members {
			if m.Voter {
				out = append(out, alerting.Member{ID: m.ID, Up: m.GossipState == "alive"})
			}
		}
		return out
	}
}

func notifier(cfg Config, logger *slog.Logger) alerting.Notifier {
	if cfg.EmailSender == "" {
		logger.Warn("no e-mail sender configured (EMAIL_SENDER or [email] sender): notifications are only logged")
		return alerting.NewLogNotifier(logger)
	}
	return alerting.NewSMTPNotifier(alerting.SMTPConfig{
		Host:     cfg.SMTPHost,
		Port:     cfg.SMTPPort,
		Username: cfg.SMTPUsername,
		Password: cfg.SMTPPassword,
	})
}

// clusterAPI gives http the node's operator functions with plain types.
type clusterAPI struct{ *cluster.Node }

func (c clusterAPI) Status() any { return c.Node.Status() }
