// Command mailsink runs an in-memory SMTP server (alerting/smtpsink) and serves what it
// received as JSON, so that end-to-end tests of a coal-mine cluster can read the mails.
//
//	GET    /messages              every message received, oldest first
//	GET    /messages?wait=N       ... once there are at least N (timeout=30s by default)
//	DELETE /messages              forget them
//	PUT    /failing?on=true|false answer MAIL with 451 (senders must retry) or not
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/coal-mine/coal-mine/alerting/smtpsink"
)

func main() {
	smtpAddr := flag.String("smtp-addr", ":2525", "SMTP listen address")
	httpAddr := flag.String("http-addr", ":8025", "HTTP listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, *smtpAddr, *httpAddr); err != nil {
		fmt.Fprintln(os.Stderr, "mailsink:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, smtpAddr, httpAddr string) error {
	sink, err := smtpsink.Start(smtpAddr)
	if err != nil {
		return err
	}
	defer sink.Close()
	server := &http.Server{
		Addr:              httpAddr,
		Handler:           newHandler(sink),
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- server.ListenAndServe() }()
	log.Printf("mailsink: SMTP on %s, HTTP on %s", sink.Addr(), httpAddr)
	select {
	case err := <-served:
		return fmt.Errorf("serve HTTP: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shut down HTTP: %w", err)
	}
	return nil
}

// maxWait bounds how long GET /messages?wait= may hold a request.
const maxWait = 5 * time.Minute

func newHandler(sink *smtpsink.Sink) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /messages", func(w http.ResponseWriter, r *http.Request) {
		if wait := r.URL.Query().Get("wait"); wait != "" {
			n, err := strconv.Atoi(wait)
			if err != nil || n < 0 {
				http.Error(w, "wait must be a number of messages", http.StatusBadRequest)
				return
			}
			timeout := 30 * time.Second
			if t := r.URL.Query().Get("timeout"); t != "" {
				if timeout, err = time.ParseDuration(t); err != nil {
					http.Error(w, "timeout must be a duration such as 30s", http.StatusBadRequest)
					return
				}
			}
			ctx, cancel := context.WithTimeout(r.Context(), min(timeout, maxWait))
			defer cancel()
			if err := sink.WaitFor(ctx, n); err != nil {
				http.Error(w, err.Error(), http.StatusGatewayTimeout)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(sink.Messages())
	})
	mux.HandleFunc("DELETE /messages", func(w http.ResponseWriter, r *http.Request) {
		sink.Clear()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /failing", func(w http.ResponseWriter, r *http.Request) {
		on, err := strconv.ParseBool(r.URL.Query().Get("on"))
		if err != nil {
			http.Error(w, "on must be true or false", http.StatusBadRequest)
			return
		}
		sink.SetFailing(on)
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
