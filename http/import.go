package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
	"github.com/gin-gonic/gin"
)

// importRequest is the body of POST /coal-mine/v1/canary/import: canaries in the shape
// the API shows them (a verbose list answer is a valid body). Keys the import does not
// use (slug, periodicity_schedule, status) are ignored.
type importRequest struct {
	Canaries *[]importCanary `json:"canaries"`
}

type importCanary struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Periodicity fsm.Periodicity `json:"periodicity"`
	Emails      []string        `json:"emails"`
	Late        bool            `json:"late"`
	Paused      bool            `json:"paused"`
	Deadline    *string         `json:"deadline"`
	History     [][]string      `json:"history"`
}

type importReply struct {
	Status    string               `json:"status"`
	Created   []string             `json:"created"`
	Unchanged []string             `json:"unchanged"`
	Updated   []string             `json:"updated"`
	Conflicts []fsm.ImportConflict `json:"conflicts"`
}

// importCanaries recreates canaries with their ids, states and histories in one
// command. Validation of each canary is Apply's: what it rejects comes back as a
// conflict; a body that cannot be read at all is a 400.
func (s *server) importCanaries(c *gin.Context, p *params) {
	overwrite, _, err := p.boolean("overwrite")
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := p.allow("overwrite"); err != nil {
		s.fail(c, err)
		return
	}
	// A large import takes longer than the server's read timeout on a slow link.
	_ = http.NewResponseController(c.Writer).SetReadDeadline(time.Now().Add(5 * time.Minute))
	data, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxImportBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.writeError(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("import body larger than %d bytes", maxImportBody))
			return
		}
		s.writeError(c, http.StatusBadRequest, "could not read the import body")
		return
	}
	canaries, err := parseImport(data)
	if err != nil {
		s.fail(c, err)
		return
	}
	imp := &fsm.Import{Canaries: canaries, Overwrite: overwrite}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.commitTimeout)
	defer cancel()
	res, err := s.writer.Propose(ctx, fsm.Command{Type: fsm.TypeImport, Import: imp})
	s.answer(c, res, err, func(res fsm.Result) reply {
		out := res.Import
		if out == nil {
			out = &fsm.ImportOutcome{}
		}
		return okReply(importReply{
			Status:    "ok",
			Created:   nonNil(out.Created),
			Unchanged: nonNil(out.Unchanged),
			Updated:   nonNil(out.Updated),
			Conflicts: nonNil(out.Conflicts),
		})
	})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// parseImport reads an import body into canaries. Timestamps with an offset are
// converted to UTC; without one they are UTC already (the original stored naive UTC).
func parseImport(data []byte) ([]fsm.Canary, error) {
	var req importRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, badRequest("Bad import body: " + err.Error())
	}
	if req.Canaries == nil {
		return nil, badRequest(`Bad import body: missing "canaries"`)
	}
	out := make([]fsm.Canary, len(*req.Canaries))
	for i, in := range *req.Canaries {
		c, err := in.canary()
		if err != nil {
			return nil, badRequest(fmt.Sprintf("Bad import body: canary %d (%q): %v", i, in.ID, err))
		}
		out[i] = c
	}
	return out, nil
}

func (in *importCanary) canary() (fsm.Canary, error) {
	c := fsm.Canary{
		ID:          in.ID,
		Name:        in.Name,
		Description: in.Description,
		Periodicity: in.Periodicity,
		Emails:      in.Emails,
		Late:        in.Late,
		Paused:      in.Paused,
	}
	if in.Deadline != nil && *in.Deadline != "" {
		d, err := parseTimestamp(*in.Deadline)
		if err != nil {
			return fsm.Canary{}, fmt.Errorf("deadline: %w", err)
		}
		c.Deadline = d
	}
	// The API shows history newest first; the state machine keeps it oldest first
	// (and sorts it again by time).
	history := make([]fsm.HistoryEntry, 0, len(in.History))
	for i := len(in.History) - 1; i >= 0; i-- {
		h := in.History[i]
		if len(h) != 2 {
			return fsm.Canary{}, fmt.Errorf("history entry %d is not [timestamp, comment]", i)
		}
		at, err := parseTimestamp(h[0])
		if err != nil {
			return fsm.Canary{}, fmt.Errorf("history entry %d: %w", i, err)
		}
		history = append(history, fsm.NewHistoryEntry(at, h[1]))
	}
	c.History = fsm.NewHistory(history...)
	return c, nil
}

// parseTimestamp reads an ISO 8601 timestamp as Python's isoformat() and str() write
// it: "T" or " " between date and time, optional fraction, optional offset (UTC when
// there is none).
func parseTimestamp(s string) (time.Time, error) {
	v := strings.TrimSpace(s)
	if len(v) > 10 && v[10] == ' ' {
		v = v[:10] + "T" + v[11:]
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("bad timestamp %q", s)
}
