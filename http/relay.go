package http

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
	"github.com/coal-mine/coal-mine/fsm/propose"
	"github.com/gin-gonic/gin"
)

// A follower relays the commands its clients send on one canary (triggers above all) to
// the leader in batches: one internal request carries every command that arrived while
// the previous batch was on its way, instead of one forwarded HTTP exchange each. The
// leader commits a batch as one Raft entry and answers with the results, which the
// follower renders as if it had committed them itself. Anything else, and anything a
// leader refuses to relay (an older version, a different auth key), is forwarded as
// before.

const relayPath = "/coal-mine/internal/relay"

// maxRelayBody bounds a relayed batch: at most MaxBatch commands, each at most one query
// string's worth of comment.
const maxRelayBody = 16 << 20

// relayedTypes are the commands a follower may relay: those on one canary, named by id
// or slug, which need nothing of the leader's state to build (Apply resolves a slug).
var relayedTypes = map[fsm.Type]bool{
	fsm.TypeTrigger: true, fsm.TypePause: true, fsm.TypeUnpause: true,
	fsm.TypeDelete: true, fsm.TypeUpdate: true,
}

// errRelayRefused says the leader would not take a relayed batch (it predates relaying,
// or its auth key differs): forward the requests one by one instead.
var errRelayRefused = errors.New("leader refused the relayed batch")

// statusNotLeader answers a relayed batch that reached a node that no longer leads.
const statusNotLeader = http.StatusMisdirectedRequest

// RelayConfig configures NewRelay.
type RelayConfig struct {
	Cluster Cluster
	// AuthKey is sent to the leader, which must have the same one.
	AuthKey string
	// Client carries the batches. Nil makes a keep-alive client.
	Client *http.Client
	// Logger hears when the leader refuses the relay. Nil discards.
	Logger *slog.Logger
}

// refusalBackoff is how long a follower forwards requests one by one after the leader
// refused a relayed batch, before it tries relaying again.
const refusalBackoff = time.Minute

// NewRelay starts the follower's batcher; pass it as Config.Relay and Close it after the
// HTTP server has stopped.
func NewRelay(cfg RelayConfig) *propose.Proposer {
	if cfg.Client == nil {
		cfg.Client = newForwardClient()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return propose.New(&relayApplier{cfg: cfg}, propose.Options{Relay: true})
}

// relayApplier sends one batch to the leader.
type relayApplier struct {
	cfg          RelayConfig
	refusedUntil atomic.Int64 // unix nanoseconds
}

func (a *relayApplier) Apply(ctx context.Context, entry []byte) (any, error) {
	if time.Now().UnixNano() < a.refusedUntil.Load() {
		return nil, errRelayRefused
	}
	addr := a.cfg.Cluster.LeaderHTTPAddr()
	if addr == "" || a.cfg.Cluster.IsLeader() {
		return nil, fmt.Errorf("relay: %w", propose.ErrNotLeader)
	}
	target := "http://" + addr + relayPath
	if a.cfg.AuthKey != "" {
		target += "?auth_key=" + url.QueryEscape(a.cfg.AuthKey)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(entry))
	if err != nil {
		return nil, fmt.Errorf("%w: build relay request: %v", errNoAnswer, err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(forwardedHeader, "1")
	resp, err := a.cfg.Client.Do(req)
	if err != nil {
		if isDialError(err) {
			return nil, fmt.Errorf("%w: %v", errUnreachable, transportCause(err))
		}
		return nil, fmt.Errorf("%w: %v", errNoAnswer, transportCause(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRelayBody))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: read relay answer: %v", errNoAnswer, transportCause(err))
	case resp.StatusCode == http.StatusOK:
		results, err := fsm.DecodeResults(body)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errNoAnswer, err)
		}
		return results, nil
	case resp.StatusCode == statusNotLeader:
		return nil, fmt.Errorf("relay to %s: %w", addr, propose.ErrNotLeader)
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		a.refusedUntil.Store(time.Now().Add(refusalBackoff).UnixNano())
		a.cfg.Logger.Warn("leader refused a relayed batch: forwarding requests one by one for a while",
			"leader", addr, "status", resp.StatusCode, "retry_in", refusalBackoff)
		return nil, fmt.Errorf("%w: %s answered %d", errRelayRefused, addr, resp.StatusCode)
	default:
		return nil, fmt.Errorf("%w: %s answered %d", errNoAnswer, addr, resp.StatusCode)
	}
}

// relayBatch is the leader's side: commit a follower's batch as one entry.
func (s *server) relayBatch(c *gin.Context, _ *params) {
	if !s.cluster.IsLeader() {
		s.writeError(c, statusNotLeader, "not the leader")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxRelayBody))
	if err != nil {
		s.writeError(c, http.StatusRequestEntityTooLarge, "relayed batch too large or unreadable")
		return
	}
	cmds, err := fsm.DecodeBatch(body)
	if err != nil {
		s.writeError(c, http.StatusBadRequest, err.Error())
		return
	}
	for _, cmd := range cmds {
		if !relayedTypes[cmd.Type] {
			s.writeError(c, http.StatusBadRequest, fmt.Sprintf("command %q cannot be relayed", cmd.Type))
			return
		}
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.commitTimeout)
	defer cancel()
	results, err := s.proposer.Commit(ctx, cmds)
	if errors.Is(err, propose.ErrNotLeader) {
		s.writeError(c, statusNotLeader, "not the leader")
		return
	}
	if err != nil {
		s.log.Error("commit relayed batch failed", "commands", len(cmds), "error", err)
		s.unavailable(c, "the batch could not be committed in time; it may still be applied")
		return
	}
	for i := range cmds {
		if cmds[i].Type == fsm.TypeTrigger {
			// A trigger's answer is only recovered and unpaused. Its canary, with a
			// history of up to 1,000 entries, was most of each relayed answer and of
			// the follower's work decoding it.
			results[i].Canary = nil
		}
	}
	wire, err := fsm.EncodeResults(results)
	if err != nil {
		s.log.Error("encode relayed results", "error", err)
		s.writeError(c, http.StatusInternalServerError, "could not encode the results")
		return
	}
	c.Data(http.StatusOK, "application/octet-stream", wire)
}
