package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/coal-mine/coal-mine/fsm/propose"
	"github.com/gin-gonic/gin"
)

// The cluster operator endpoints, under /coal-mine/v1/cluster/, behind the auth key.

// clusterStatus shows Cluster.Status() with "status": "ok" first. It is a local read:
// every node answers for itself.
func (s *server) clusterStatus(c *gin.Context, p *params) {
	if err := p.allow(); err != nil {
		s.fail(c, err)
		return
	}
	body, err := json.Marshal(s.cluster.Status())
	body = bytes.TrimSpace(body)
	if err != nil || len(body) < 2 || body[0] != '{' {
		s.log.Error("cluster status is not a JSON object", "error", err)
		s.writeError(c, http.StatusInternalServerError, "500 Internal Server Error")
		return
	}
	merged := []byte(`{"status":"ok"`)
	if rest := bytes.TrimSpace(body[1:]); len(rest) > 0 && rest[0] != '}' {
		merged = append(merged, ',')
	}
	merged = append(merged, body[1:]...)
	s.write(c, okReply(json.RawMessage(merged)))
}

func (s *server) removePeer(c *gin.Context, p *params) {
	if err := p.require("id"); err != nil {
		s.fail(c, err)
		return
	}
	if err := p.allow("id"); err != nil {
		s.fail(c, err)
		return
	}
	id, _ := p.last("id")
	s.onLeader(c, ignoredBody(), func(ctx context.Context) (reply, error) {
		if err := s.cluster.RemovePeer(ctx, id); err != nil {
			return s.operatorError("remove peer", err)
		}
		return okReply(okBody), nil
	})
}

type transferReply struct {
	Status   string `json:"status"`
	LeaderID string `json:"leader_id"`
}

func (s *server) transferLeader(c *gin.Context, p *params) {
	if err := p.allow("id"); err != nil {
		s.fail(c, err)
		return
	}
	id, _ := p.last("id") // none: raft picks the most up-to-date follower
	s.onLeader(c, ignoredBody(), func(ctx context.Context) (reply, error) {
		if err := s.cluster.TransferLeadership(ctx, id); err != nil {
			return s.operatorError("transfer leadership", err)
		}
		// The new leader is known once it has won its election.
		wctx, cancel := context.WithTimeout(ctx, s.electionWait)
		defer cancel()
		_ = s.cluster.WaitLeader(wctx)
		return okReply(transferReply{Status: "ok", LeaderID: s.cluster.LeaderID()}), nil
	})
}

// operatorError passes not-leader errors back to onLeader (retry on the new leader)
// and shows any other error to the operator, who asked for this very operation.
func (s *server) operatorError(op string, err error) (reply, error) {
	if errors.Is(err, propose.ErrNotLeader) {
		return reply{}, err
	}
	s.log.Warn(op+" failed", "error", err)
	return errorReply(http.StatusBadRequest, op+": "+err.Error()), nil
}

// backup streams a consistent backup of the whole state from this node.
func (s *server) backup(c *gin.Context, p *params) {
	if err := p.allow(); err != nil {
		s.fail(c, err)
		return
	}
	// A large state takes longer than the server's write timeout to send.
	_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Time{})
	w := &startedWriter{c: c}
	if err := s.cluster.Backup(c.Request.Context(), w); err != nil {
		if !w.started && errors.Is(err, ErrBackupNotReady) {
			s.log.Warn("backup refused for now", "error", err)
			s.unavailable(c, "backup: this node has not caught up with the cluster yet; retry, or ask another node")
			return
		}
		s.log.Error("backup failed", "error", err)
		if !w.started {
			s.writeError(c, http.StatusInternalServerError, "backup failed")
			return
		}
		// Part of the backup is sent: break the connection so that the client cannot
		// take a truncated backup for a whole one.
		panic(http.ErrAbortHandler)
	}
	if !w.started {
		w.start()
	}
}

// ErrBackupNotReady is wrapped by a Cluster's Backup error when the node cannot take
// a backup yet but will soon, or another node can.
var ErrBackupNotReady = errors.New("backup not possible yet")

// startedWriter sends the octet-stream headers on the first byte of the backup.
type startedWriter struct {
	c       *gin.Context
	started bool
}

func (w *startedWriter) start() {
	w.started = true
	w.c.Header("Content-Type", "application/octet-stream")
	w.c.Header("Content-Disposition", `attachment; filename="coal-mine-backup"`)
	w.c.Status(http.StatusOK)
	w.c.Writer.WriteHeaderNow()
}

func (w *startedWriter) Write(b []byte) (int, error) {
	if !w.started {
		w.start()
	}
	return w.c.Writer.Write(b)
}

// restore replaces the whole state, on every node, with an uploaded backup. It runs on
// the leader; a follower streams the upload there.
func (s *server) restore(c *gin.Context, p *params) {
	if err := p.allow(); err != nil {
		s.fail(c, err)
		return
	}
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	if c.Request.ContentLength > s.maxRestoreBytes {
		s.writeError(c, http.StatusRequestEntityTooLarge, "backup too large")
		return
	}
	body := streamBody(http.MaxBytesReader(c.Writer, c.Request.Body, s.maxRestoreBytes), c.Request.ContentLength)
	// No commit timeout: a restore replicates the whole state; the client bounds it.
	s.onLeaderFor(c, body, 0, func(ctx context.Context) (reply, error) {
		if err := s.cluster.Restore(ctx, body.stream); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return errorReply(http.StatusRequestEntityTooLarge, "backup too large"), nil
			}
			return s.operatorError("restore", err)
		}
		return okReply(okBody), nil
	}, nil)
}
