package http

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/coal-mine/coal-mine/fsm/propose"
	"github.com/gin-gonic/gin"
)

// forwardedHeader marks a request a follower forwarded to the leader. A request that
// carries it is never forwarded again, so a stale leader address cannot make a loop.
const forwardedHeader = "X-Coal-Mine-Forwarded"

// leaderOp runs on the leader. An error wrapping propose.ErrNotLeader sends the request
// through the election wait again; any other error means the change could not be
// committed (the reply is then ignored).
type leaderOp func(ctx context.Context) (reply, error)

// errUnreachable says the leader could not be reached at all: the request never left
// this node, so it may be sent again.
var errUnreachable = errors.New("leader unreachable")

// errNoAnswer says the leader was sent the request but did not answer.
var errNoAnswer = errors.New("leader did not answer")

// onLeader runs op here if this node leads, and otherwise forwards the request to the
// leader in one hop. While no leader is known, or while leadership moves, it waits
// and retries, up to the election wait; then it answers 503 with Retry-After.
func (s *server) onLeader(c *gin.Context, body *requestBody, op leaderOp) {
	s.onLeaderFor(c, body, s.commitTimeout, op, nil)
}

// onLeaderFor is onLeader with op bounded by timeout on the leader (0: by the client and
// op itself). A follower runs relayed, when given, instead of forwarding the request; if
// the leader refuses the relay, it forwards. relayed bounds itself.
func (s *server) onLeaderFor(c *gin.Context, body *requestBody, timeout time.Duration, op, relayed leaderOp) {
	ctx := c.Request.Context()
	deadline := time.Now().Add(s.electionWait)
	forwarded := c.GetHeader(forwardedHeader) != ""
	pause := 10 * time.Millisecond
	for {
		if !body.replayable() {
			// A streamed upload was consumed by an attempt that did not finish.
			s.unavailable(c, "leadership changed during the upload: retry")
			return
		}
		switch {
		case s.cluster.IsLeader():
			r, err := runOnLeader(ctx, timeout, op)
			if err == nil {
				s.write(c, r)
				return
			}
			if !errors.Is(err, propose.ErrNotLeader) {
				s.log.Error("commit failed", "endpoint", endpointLabel(c), "error", err)
				s.unavailable(c, s.unavailableWhy("the change could not be committed in time; it may still be applied: retry"))
				return
			}
		case !forwarded && relayed != nil && s.cluster.LeaderHTTPAddr() != "":
			r, err := relayed(ctx)
			switch {
			case err == nil:
				s.metrics.forwards.WithLabelValues("relayed").Inc()
				s.write(c, r)
				return
			case errors.Is(err, errRelayRefused):
				relayed = nil
				continue
			case errors.Is(err, errUnreachable), errors.Is(err, propose.ErrNotLeader):
				// Not applied: wait for the leader, then relay again.
			default:
				s.metrics.forwards.WithLabelValues("failed").Inc()
				s.log.Warn("relay to leader failed", "error", err)
				s.unavailable(c, "the leader did not answer; the request may have been applied: retry")
				return
			}
		case !forwarded:
			if addr := s.cluster.LeaderHTTPAddr(); addr != "" {
				err := s.forward(c, addr, body)
				if err == nil {
					return
				}
				if !errors.Is(err, errUnreachable) {
					s.unavailable(c, "the leader did not answer; the request may have been applied: retry")
					return
				}
			}
		}
		remaining := time.Until(deadline)
		if remaining <= 0 || ctx.Err() != nil {
			s.unavailable(c, s.unavailableWhy("no leader: the cluster is electing one, retry shortly"))
			return
		}
		s.awaitLeader(ctx, min(pause, remaining), remaining)
		pause = min(2*pause, 250*time.Millisecond)
	}
}

func runOnLeader(ctx context.Context, timeout time.Duration, op leaderOp) (reply, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return op(ctx)
}

// awaitLeader blocks until a leader is known (at most wait) when none is, and otherwise
// for a short pause: the known leader could not take the request (it is this node
// losing leadership, or this request was already forwarded once).
func (s *server) awaitLeader(ctx context.Context, pause, wait time.Duration) {
	if s.cluster.IsLeader() || s.cluster.LeaderHTTPAddr() != "" {
		sleep(ctx, pause)
		return
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := s.cluster.WaitLeader(wctx); err == nil && !s.cluster.IsLeader() && s.cluster.LeaderHTTPAddr() == "" {
		// A leader is known but not yet its HTTP address (gossip lags): do not spin.
		sleep(ctx, pause)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (s *server) unavailable(c *gin.Context, msg string) {
	c.Header("Retry-After", "1")
	s.writeError(c, http.StatusServiceUnavailable, msg)
}

// requestBody is the body a forwarded request carries: the bytes already read
// (replayable), or the client's stream (restore: sent at most once).
type requestBody struct {
	data   []byte
	loaded bool
	limit  int64
	stream *countingReader
	size   int64 // stream length, -1 when unknown
}

// ignoredBody is a v1 request's body: ignored here, forwarded as it came (up to 1 MiB).
func ignoredBody() *requestBody {
	return &requestBody{limit: maxParamBody}
}

func bytesBody(data []byte) *requestBody {
	return &requestBody{data: data, loaded: true}
}

func streamBody(r io.Reader, size int64) *requestBody {
	return &requestBody{stream: &countingReader{r: r}, size: size}
}

func (b *requestBody) replayable() bool {
	return b.stream == nil || b.stream.n == 0
}

// reader returns the body for one attempt, reading a lazily loaded body on first use.
func (b *requestBody) reader(c *gin.Context) (io.Reader, int64) {
	if b.stream != nil {
		return b.stream, b.size
	}
	if !b.loaded {
		b.loaded = true
		if c.Request.Body != nil {
			// The body means nothing to the v1 API; a read error just ends it.
			b.data, _ = io.ReadAll(io.LimitReader(c.Request.Body, b.limit))
		}
	}
	return bytes.NewReader(b.data), int64(len(b.data))
}

type countingReader struct {
	r   io.Reader
	n   int64
	err error // the last read's, other than io.EOF
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

// forward sends the request to the leader and copies the leader's answer back, whatever
// its status. It returns errUnreachable when the request never reached the leader,
// errNoAnswer when it was sent but no answer came; the caller answers the client then.
// Transport errors are logged, without the query string (it may hold the auth key).
func (s *server) forward(c *gin.Context, addr string, body *requestBody) error {
	ctx := c.Request.Context()
	if body.stream == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.forwardTimeout)
		defer cancel()
	}
	r, size := body.reader(c)
	target := "http://" + addr + c.Request.URL.RequestURI()
	req, err := http.NewRequestWithContext(ctx, c.Request.Method, target, r)
	if err != nil {
		s.log.Error("build forwarded request", "leader", addr, "path", c.Request.URL.Path, "error", err)
		s.metrics.forwards.WithLabelValues("failed").Inc()
		return fmt.Errorf("%w: %v", errNoAnswer, err)
	}
	req.ContentLength = size
	copyHeaders(req.Header, c.Request.Header)
	req.Header.Set(forwardedHeader, "1")
	if host, _, err := net.SplitHostPort(c.Request.RemoteAddr); err == nil {
		req.Header.Add("X-Forwarded-For", host)
	}
	resp, err := s.client.Do(req)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		// The client's upload broke the limit while it was being sent on.
		s.writeError(c, http.StatusRequestEntityTooLarge, "request body too large")
		return nil
	}
	var stalled *uploadStalled
	if err != nil && body.stream != nil && errors.As(body.stream.err, &stalled) {
		// The client's upload stopped while it was being sent on (restore).
		s.writeError(c, http.StatusRequestTimeout, "restore: "+stalled.Error())
		return nil
	}
	if err != nil {
		cause := transportCause(err)
		outcome, sentinel := "failed", errNoAnswer
		if isDialError(err) {
			outcome, sentinel = "unreachable", errUnreachable
		}
		s.metrics.forwards.WithLabelValues(outcome).Inc()
		s.log.Warn("forward to leader failed", "leader", addr, "method", c.Request.Method,
			"path", c.Request.URL.Path, "error", cause)
		return fmt.Errorf("%w: %v", sentinel, cause)
	}
	defer resp.Body.Close()
	s.metrics.forwards.WithLabelValues("answered").Inc()
	copyHeaders(c.Writer.Header(), resp.Header)
	c.Status(resp.StatusCode)
	if _, err := io.Copy(c.Writer, resp.Body); err != nil {
		// The status is sent; the client sees a short body, as with any broken answer.
		s.log.Warn("copy leader's answer", "leader", addr, "path", c.Request.URL.Path,
			"error", transportCause(err))
	}
	return nil
}

// transportCause strips the *url.Error wrapper, whose text contains the full URL and
// with it the query string.
func transportCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// hopHeaders belong to one connection and are never copied.
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Proxy-Connection": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true, "Content-Length": true,
}

func copyHeaders(dst, src http.Header) {
	for k, vs := range src {
		if hopHeaders[k] {
			continue
		}
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}

// newForwardClient is the shared keep-alive client for forwarding. It never goes
// through an environment proxy (the leader is a cluster peer) and never follows
// redirects (the leader's answer is the answer). Each request carries its own
// deadline (ForwardTimeout; a restore upload is bounded by its client instead).
func newForwardClient() *http.Client {
	dialer := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:           dialer.DialContext,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   128,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
