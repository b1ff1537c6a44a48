package http

import (
	"time"

	"github.com/coal-mine/coal-mine/fsm"
)

// canaryJSON is a canary as the original server shows it.
type canaryJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Slug        string `json:"slug"`
	Description string `json:"description"`
	// Periodicity is null for a canary expected by cron.
	Periodicity *fsm.Periodicity `json:"periodicity"`
	Emails      []string         `json:"emails"`
	Late        bool             `json:"late"`
	Paused      bool             `json:"paused"`
	// Deadline is absent, not null, while the canary is paused.
	Deadline string `json:"deadline,omitempty"`
	// History is newest first, each entry [timestamp, comment].
	History [][2]string `json:"history"`
	// PeriodicitySchedule shows how a schedule plays out (create, update, get, pause,
	// unpause; never in list).
	PeriodicitySchedule []windowJSON `json:"periodicity_schedule,omitempty"`
	// The keys beyond the original's (signals and job settings); all but state are
	// absent while unused.
	State          string   `json:"state"`
	Cron           string   `json:"cron,omitempty"`
	TZ             string   `json:"tz,omitempty"`
	Grace          float64  `json:"grace,omitempty"`
	MaxRuntime     float64  `json:"max_runtime,omitempty"`
	Renotify       float64  `json:"renotify,omitempty"`
	Channels       []string `json:"channels,omitempty"`
	PausedUntil    string   `json:"paused_until,omitempty"`
	Started        string   `json:"started,omitempty"`
	LastDuration   float64  `json:"last_duration,omitempty"`
	LastExitStatus *int     `json:"last_exit_status,omitempty"`
}

type canaryReply struct {
	Status string      `json:"status"`
	Canary *canaryJSON `json:"canary"`
}

// renderCanary converts a canary; withSchedule adds periodicity_schedule to a canary
// whose periodicity is a schedule.
func (s *server) renderCanary(c *fsm.Canary, withSchedule bool) *canaryJSON {
	out := &canaryJSON{
		ID:          c.ID,
		Name:        c.Name,
		Slug:        c.Slug,
		Description: c.Description,
		Emails:      c.Emails,
		Late:        c.Late,
		Paused:      c.Paused,
		History:     make([][2]string, c.History.Len()),
		State:       c.State(),
	}
	if out.Emails == nil {
		out.Emails = []string{}
	}
	if c.Cron() == "" {
		out.Periodicity = &c.Periodicity
	}
	if lateAt := c.LateAt(); !lateAt.IsZero() {
		out.Deadline = isoTime(lateAt)
	}
	renderJob(out, c.Job)
	newest := len(out.History) - 1 // the API shows the history newest first
	for h := range c.History.All() {
		out.History[newest] = [2]string{isoTime(h.Time()), h.Comment}
		newest--
	}
	if withSchedule && c.Periodicity.IsSchedule() {
		windows, err := c.PlayOut(s.now())
		if err != nil {
			// A stored schedule was validated by Apply; show the canary without the
			// play-out rather than fail the request.
			s.log.Warn("play out periodicity schedule", "canary", c.ID, "error", err)
		} else {
			out.PeriodicitySchedule = renderWindows(windows)
		}
	}
	return out
}

// renderJob adds the settings and signal state of a canary that has them.
func renderJob(out *canaryJSON, j *fsm.Job) {
	if j == nil {
		return
	}
	out.Cron, out.TZ, out.Channels = j.Cron, j.TZ, j.Channels
	out.Grace, out.MaxRuntime, out.Renotify = j.Grace.Seconds(), j.MaxRuntime.Seconds(), j.Renotify.Seconds()
	if !j.PausedUntil.IsZero() {
		out.PausedUntil = isoTime(j.PausedUntil)
	}
	if !j.Started.IsZero() {
		out.Started = isoTime(j.Started)
	}
	out.LastDuration = j.LastDuration.Seconds()
	if j.HasExitStatus {
		status := j.LastExitStatus
		out.LastExitStatus = &status
	}
}

func (s *server) canaryReply(c *fsm.Canary) reply {
	return okReply(canaryReply{Status: "ok", Canary: s.renderCanary(c, true)})
}

// isoTime formats a timestamp as Python's isoformat() of an aware UTC datetime:
// 2015-03-19T01:08:44.885182+00:00, the fraction left out when it is zero.
func isoTime(t time.Time) string {
	t = t.UTC()
	b := make([]byte, 0, 32)
	b = t.AppendFormat(b, "2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		b = append(b, '.')
		b = appendPadded(b, us, 6)
	}
	return string(append(b, "+00:00"...))
}

// appendPadded appends n in decimal, zero-padded to width digits.
func appendPadded(b []byte, n, width int) []byte {
	var digits [20]byte
	i := len(digits)
	for n > 0 || i > len(digits)-width {
		i--
		digits[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, digits[i:]...)
}

// windowJSON is one periodicity_schedule entry: [start, end, seconds or "Inactive"].
type windowJSON [3]any

func renderWindows(windows []fsm.Window) []windowJSON {
	out := make([]windowJSON, len(windows))
	for i, w := range windows {
		var seconds any = "Inactive"
		if w.Active {
			// A Periodicity of seconds marshals as the original's float (600.0).
			seconds = fsm.Periodicity{Seconds: w.Seconds}
		}
		out[i] = windowJSON{isoTime(w.Start), isoTime(w.End), seconds}
	}
	return out
}
