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
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	logger.Info("serving pprof", "addr", addr)
	if err := srv.ListenAndServe(); err != nil {
		logger.Error("pprof server stopped", "err", err)
	}
}
