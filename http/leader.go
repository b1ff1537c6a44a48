package http

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coal-mine/coal-mine/cluster"
	"github.com/gin-gonic/gin"
)

// Any node answers every call. What only the leader can do reaches it through the write
// path (writes) or the cluster (consistent reads, operator requests), which follow the
// leader through elections; this file turns their failures into answers.

// errNotLeader is the cluster's one not-leader error: nothing reached a leader in time.
var errNotLeader = cluster.ErrNotLeader

// uncommitted answers a write that was not committed: 503 either way, saying whether it
// never reached a leader or may still be applied.
func (s *server) uncommitted(c *gin.Context, err error) {
	if errors.Is(err, errNotLeader) {
		s.unavailable(c, s.unavailableWhy("no leader: the cluster is electing one, retry shortly"))
		return
	}
	s.log.Error("commit failed", "endpoint", endpointLabel(c), "error", err)
	s.unavailable(c, s.unavailableWhy("the change could not be committed in time; it may still be applied: retry"))
}

// unavailableWhy is msg, or, when this node cannot write its log, why not: its writes
// fail for that reason, and "no leader" would send the operator after an election.
func (s *server) unavailableWhy(msg string) string {
	if err := s.health.StorageError(); err != nil {
		return err.Error() + "; this node serves reads and takes writes again as soon as it can write its log"
	}
	return msg
}

// noLeader answers a read or operator request that found no leader (503), or that failed
// for another reason while the cluster was unavailable (503 too, logged).
func (s *server) noLeader(c *gin.Context, what string, err error) {
	if !errors.Is(err, errNotLeader) {
		s.log.Warn(what+" failed", "error", err)
	}
	s.unavailable(c, "no leader: the cluster is electing one, retry shortly")
}

// untilLeader runs op, and again while it fails because no node was the leader to do it
// (a new leader still taking up its term, an election), for up to the election wait.
func (s *server) untilLeader(ctx context.Context, op func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.electionWait)
	defer cancel()
	pause := 10 * time.Millisecond
	for {
		err := op(ctx)
		if err == nil || !errors.Is(err, errNotLeader) || ctx.Err() != nil {
			return err
		}
		if !sleep(ctx, pause) {
			return err
		}
		pause = min(2*pause, 250*time.Millisecond)
	}
}

func (s *server) unavailable(c *gin.Context, msg string) {
	c.Header("Retry-After", "1")
	s.writeError(c, http.StatusServiceUnavailable, msg)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
