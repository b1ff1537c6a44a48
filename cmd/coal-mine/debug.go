package main

import (
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"
)

// serveDebug serves pprof on its own listener, never on the API port, so profiles are
// reachable only where the operator chose to bind them.
func serveDebug(addr string, logger *slog.Logger) {
	srv := &http.Server{Addr: addr, Handler: debugHandler(), ReadHeaderTimeout: 10 * time.Second}
	logger.Info("serving pprof", "addr", addr)
	if err := srv.ListenAndServe(); err != nil {
		logger.Error("pprof server stopped", "err", err)
	}
}

// debugHandler serves the profiles, and not the command line: pprof.Cmdline answers
// os.Args, which holds --auth-key and --smtp-password when they are given as flags,
// and no profiling tool needs it. What the rest serves is stacks, symbols, sampled
// allocation sites and timings, never the contents of memory: a string argument in a
// goroutine dump shows as a pointer and a length.
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // also every named profile: heap, goroutine, ...
	mux.HandleFunc("/debug/pprof/cmdline", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not served: the command line may hold secrets (--auth-key, --smtp-password)", http.StatusNotFound)
	})
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
