package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
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

// storageHealth is a cluster whose node can say why it cannot write its Raft log (a full
// disk).
type storageHealth interface {
	StorageError() error
}

// unavailableWhy is msg, or, when this node cannot write its log, why not: its writes
// fail for that reason, and "no leader" would send the operator after an election.
func (s *server) unavailableWhy(msg string) string {
	h, ok := s.cluster.(storageHealth)
	if !ok {
		return msg
	}
	if err := h.StorageError(); err != nil {
		return err.Error() + "; this node serves reads and takes writes again as soon as it can write its log"
	}
	return msg
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
	// A large backup takes longer than the server's read and write timeouts to upload
	// and restore. The upload must keep moving instead (progressReader).
	_ = rc.SetWriteDeadline(time.Time{})
	if c.Request.ContentLength > s.maxRestoreBytes {
		s.writeError(c, http.StatusRequestEntityTooLarge, "backup too large")
		return
	}
	upload := newProgressReader(c.Request.Body, rc, s.restoreStall)
	body := streamBody(http.MaxBytesReader(c.Writer, upload, s.maxRestoreBytes), c.Request.ContentLength)
	// No commit timeout: a restore replicates the whole state; the client bounds it.
	s.onLeaderFor(c, body, 0, func(ctx context.Context) (reply, error) {
		if err := s.cluster.Restore(ctx, body.stream); err != nil {
			var tooLarge *http.MaxBytesError
			var stalled *uploadStalled
			switch {
			case errors.As(err, &tooLarge):
				return errorReply(http.StatusRequestEntityTooLarge, "backup too large"), nil
			case errors.As(err, &stalled):
				s.log.Warn("restore abandoned", "error", err)
				return errorReply(http.StatusRequestTimeout, "restore: "+stalled.Error()), nil
			}
			return s.operatorError("restore", err)
		}
		return okReply(okBody), nil
	}, nil)
}

// An upload must bring restoreProgressBytes within every restoreStall (default
// DefaultRestoreStall) or it is abandoned: one dribbled at a byte every 5 s held a
// request, and the file the leader spools a backup to, for five minutes. Reading goes
// on as long as a client sends at least about 4 KiB/s, so a backup of any size arrives
// over a slow link; a stalled one costs at most one window.
const restoreProgressBytes = 64 << 10

// uploadStalled is the error a stalled upload's read returns.
type uploadStalled struct{ window time.Duration }

func (e *uploadStalled) Error() string {
	return fmt.Sprintf("the upload stalled: less than %d KiB arrived in %v", restoreProgressBytes>>10, e.window)
}

// progressReader reads an upload under a read deadline that moves forward each time
// restoreProgressBytes more have arrived, and is lifted at the end of the body (a
// deadline left behind would fail the server's background read while the restore runs,
// and with it the request's context).
type progressReader struct {
	r       io.ReadCloser
	rc      *http.ResponseController
	window  time.Duration
	pending int64
}

func newProgressReader(r io.ReadCloser, rc *http.ResponseController, window time.Duration) *progressReader {
	_ = rc.SetReadDeadline(time.Now().Add(window))
	return &progressReader{r: r, rc: rc, window: window}
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.pending += int64(n)
	if p.pending >= restoreProgressBytes {
		p.pending = 0
		_ = p.rc.SetReadDeadline(time.Now().Add(p.window))
	}
	switch {
	case err == io.EOF:
		_ = p.rc.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = &uploadStalled{window: p.window}
	}
	return n, err
}

func (p *progressReader) Close() error { return p.r.Close() }
