package alerting

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"
)

// heartbeatTimeout bounds one ping of the outside dead man's switch.
const heartbeatTimeout = 10 * time.Second

// heartbeat pings HeartbeatURL at once and then every HeartbeatInterval until ctx (the
// leadership) ends. Only the leader runs it, so the pings form one stream through
// failovers; if the cluster stops alerting (no leader, or the whole cluster down) the
// pings stop and the outside monitor says so. The URL may hold a secret (a check's
// UUID): logs name its host only.
func (s *Service) heartbeat(ctx context.Context) {
	client := &http.Client{Timeout: heartbeatTimeout}
	host := ""
	if u, err := url.Parse(s.cfg.HeartbeatURL); err == nil {
		host = u.Host
	}
	t := time.NewTicker(s.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		if err := ping(ctx, client, s.cfg.HeartbeatURL); err != nil && ctx.Err() == nil {
			s.metrics.heartbeatFailures.Inc()
			s.log.Warn("heartbeat ping failed", "host", host, "err", redact(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func ping(ctx context.Context, client *http.Client, target string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 {
		return &statusError{code: resp.StatusCode}
	}
	return nil
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "answered " + http.StatusText(e.code) }

// redact keeps the URL out of an error: net/http's errors quote it whole.
func redact(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Op + ": " + uerr.Err.Error()
	}
	return err.Error()
}
