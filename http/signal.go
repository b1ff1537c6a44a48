package http

import (
	"io"
	"net/http"
	"strconv"

	"github.com/coal-mine/coal-mine/fsm"
	"github.com/gin-gonic/gin"
)

// Signals on the ping URL, Healthchecks-compatible: /<id>/start, /<id>/fail,
// /<id>/log, /<id>/<exit status>, the same under /ping/, and state= / exit_status= on
// the v1 trigger. A plain trigger stays the original's trigger command, byte for byte.

// maxDrainBytes is how much of a body past the kept output is read and dropped, so that
// the client, still sending, gets its answer (curl fails a request whose upload is cut
// off, even one that was answered 200). Reading costs no memory; a longer body ends the
// connection instead.
const maxDrainBytes = 64 << 20

// pingForm is what the URL's path says beyond the id.
type pingForm struct {
	suffix   string // "", "start", "fail", "log" or an exit status
	keepBody bool   // /ping/<id>: a body is the run's output even without a signal
}

// shortPing serves /<id>/<signal>, /ping/<id> and /ping/<id>/<signal>.
func (s *server) shortPing(keepBody bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.Param("id")
		if !fsm.ValidID(id) {
			s.writeError(c, http.StatusNotFound, msgNotFound)
			return
		}
		form := pingForm{suffix: c.Param("signal"), keepBody: keepBody}
		s.api(openAccess, func(c *gin.Context, p *params) {
			p.add("id", id) // the id in the path wins, as in shortTrigger
			s.ping(c, p, form)
		})(c)
	}
}

// signalOf reads the signal a ping gives: from the path's suffix, or from state= and
// exit_status=. ok is false for a plain trigger.
func signalOf(p *params, form pingForm) (kind fsm.SignalKind, status int, ok bool, err error) {
	state, hasState := p.last("state")
	exit, hasExit := p.last("exit_status")
	if form.suffix != "" {
		if hasState || hasExit {
			return "", 0, false, badRequest("give the signal in the path or in state and exit_status, not both")
		}
		switch form.suffix {
		case "start", "fail", "log":
			hasState, state = true, form.suffix
		default:
			hasExit, exit = true, form.suffix
		}
	}
	if !hasState && !hasExit {
		return "", 0, false, nil
	}
	status = -1
	if hasExit {
		n, err := strconv.Atoi(exit)
		if err != nil || !allDigits(exit) || n > 255 {
			return "", 0, false, badRequest("exit_status must be a whole number from 0 to 255")
		}
		status = n
	}
	switch {
	case !hasState && status == 0, hasState && state == "success" && status <= 0:
		return fsm.SignalSuccess, status, true, nil
	case !hasState, hasState && state == "fail":
		return fsm.SignalFail, status, true, nil
	case state == "success":
		return "", 0, false, badRequest("state=success with a non-zero exit_status: use state=fail")
	case state == "start" || state == "log":
		if hasExit {
			return "", 0, false, badRequest("exit_status goes with success or fail, not " + state)
		}
		return fsm.SignalKind(state), -1, true, nil
	}
	return "", 0, false, badRequest("state must be start, success, fail or log")
}

// allDigits accepts what Healthchecks does for an exit status: digits only.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// ping triggers or signals the canary: the original's trigger for a plain ping, a
// signal command otherwise.
func (s *server) ping(c *gin.Context, p *params, form pingForm) {
	if err := p.allow("id", "name", "slug", "comment", "m", "state", "exit_status", "rid"); err != nil {
		s.fail(c, err)
		return
	}
	t, err := identify(p, true)
	if err != nil {
		s.fail(c, err)
		return
	}
	comment, ok := p.last("comment")
	if !ok {
		comment, _ = p.last("m")
	}
	kind, status, isSignal, err := signalOf(p, form)
	if err != nil {
		s.fail(c, err)
		return
	}
	rid, hasRID := p.last("rid")
	var output string
	if isSignal || form.keepBody {
		if output, err = readOutput(c); err != nil {
			s.fail(c, err)
			return
		}
		if !isSignal && (output != "" || hasRID) {
			kind, status, isSignal = fsm.SignalSuccess, 0, true
		}
	}
	s.command(c, t, func(t target) fsm.Command {
		if !isSignal {
			if hasRID {
				// A rid on a plain trigger still pairs it with its start.
				return fsm.Command{Type: fsm.TypeSignal, Signal: &fsm.Signal{
					ID: t.id, Slug: t.slug, Kind: fsm.SignalSuccess, RID: rid, Comment: comment, ExitStatus: 0}}
			}
			return fsm.Command{Type: fsm.TypeTrigger, Trigger: &fsm.Trigger{ID: t.id, Slug: t.slug, Comment: comment}}
		}
		return fsm.Command{Type: fsm.TypeSignal, Signal: &fsm.Signal{
			ID: t.id, Slug: t.slug, Kind: kind, RID: rid, Comment: comment, ExitStatus: status, Output: output}}
	}, func(res fsm.Result) reply {
		return okRaw(triggerBodies[b2i(res.Recovered)][b2i(res.Unpaused)])
	})
}

// readOutput keeps the first fsm.MaxOutputBytes of a POST body as the run's output,
// cut and marked beyond that.
func readOutput(c *gin.Context) (string, error) {
	if c.Request.Method != http.MethodPost || c.Request.Body == nil {
		return "", nil
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, fsm.MaxOutputBytes+1))
	if err != nil {
		return "", badRequest("could not read the request body")
	}
	if len(body) > fsm.MaxOutputBytes {
		_, _ = io.Copy(io.Discard, io.LimitReader(c.Request.Body, maxDrainBytes))
	}
	return fsm.CutOutput(body), nil
}

// runsReply lists a canary's runs, newest first.
type runsReply struct {
	Status string    `json:"status"`
	Runs   []runJSON `json:"runs"`
}

type runJSON struct {
	RID        string   `json:"rid,omitempty"`
	State      string   `json:"state"`
	Started    string   `json:"started,omitempty"`
	Ended      string   `json:"ended,omitempty"`
	Duration   *float64 `json:"duration,omitempty"`
	ExitStatus *int     `json:"exit_status,omitempty"`
	Output     string   `json:"output,omitempty"`
}

func (s *server) runs(c *gin.Context, p *params) {
	s.readCanary(c, p, func(canary *fsm.Canary) reply {
		return okReply(runsReply{Status: "ok", Runs: renderRuns(canary)})
	})
}

func renderRuns(c *fsm.Canary) []runJSON {
	out := []runJSON{}
	if c.Job == nil {
		return out
	}
	for i := len(c.Job.Runs) - 1; i >= 0; i-- {
		r := &c.Job.Runs[i]
		j := runJSON{RID: r.RID, State: string(r.State), Output: r.Output}
		if !r.Started.IsZero() {
			j.Started = isoTime(r.Started)
		}
		if !r.Ended.IsZero() {
			j.Ended = isoTime(r.Ended)
		}
		if d, ok := r.Duration(); ok {
			seconds := d.Seconds()
			j.Duration = &seconds
		}
		if r.ExitStatus >= 0 {
			status := r.ExitStatus
			j.ExitStatus = &status
		}
		out = append(out, j)
	}
	return out
}
