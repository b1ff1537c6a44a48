package main

import (
	"crypto/subtle"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// serveDebug serves pprof on its own listener, never on the API port, and only on
// loopback: profiles show what the process does, and a CPU profile or trace costs it
// time. With an auth key, every request needs it too (?auth_key=, as the API takes it).
func serveDebug(addr, authKey string, logger *slog.Logger) {
	if host, _, err := net.SplitHostPort(addr); err != nil || !loopbackListener(host) {
		logger.Error("pprof not served: --debug-addr must be a loopback address such as 127.0.0.1:6060", "addr", addr)
		return
	}
	srv := &http.Server{Addr: addr, Handler: requireKey(authKey, debugHandler()), ReadHeaderTimeout: 10 * time.Second}
	logger.Info("serving pprof", "addr", addr)
	if err := srv.ListenAndServe(); err != nil {
		logger.Error("pprof server stopped", "err", err)
	}
}

// requireKey lets a request through only with auth_key=key (any, without a key).
func requireKey(key string, h http.Handler) http.Handler {
	if key == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("auth_key")), []byte(key)) != 1 {
			http.Error(w, "401 Unauthorized: give auth_key", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
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
