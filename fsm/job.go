package fsm

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coal-mine/coal-mine/fsm/schedule"
)

// Job is what a canary knows beyond the original's fields: how its job is expected
// (grace, max runtime, time zone, cron), what the job reported through signals (start,
// exit status, output) and a timed pause. A canary that uses none of it has a nil Job,
// so the original's canaries cost no more memory than before. Like a Canary, a stored
// Job is immutable: Apply stores a changed copy.
type Job struct {
	// Grace is added to every deadline: the canary goes late Grace after the
	// periodicity (or the cron time) runs out.
	Grace time.Duration `json:"grace,omitempty"`
	// MaxRuntime makes a started run that has not ended by Started+MaxRuntime late.
	MaxRuntime time.Duration `json:"max_runtime,omitempty"`
	// TZ is the IANA zone schedule directives and the cron expression are read in.
	TZ string `json:"tz,omitempty"`
	// Cron replaces the periodicity: the job is expected at each cron time.
	Cron string `json:"cron,omitempty"`
	// Renotify re-sends the alert every Renotify while the canary stays late; Notified
	// is when the newest alert (LATE, FAILED, overrun or repeat) was queued.
	Renotify time.Duration `json:"renotify,omitempty"`
	Notified time.Time     `json:"notified,omitzero"`
	// Channels names the channels the canary's events go to (else the default ones).
	Channels []string `json:"channels,omitempty"`
	// PausedUntil is when the leader unpauses a canary paused with until or for.
	PausedUntil time.Time `json:"paused_until,omitzero"`
	// Started is the newest start signal not yet ended, StartedRID its run id.
	Started    time.Time `json:"started,omitzero"`
	StartedRID string    `json:"started_rid,omitempty"`
	// Failed says the canary is late because its job reported a failure.
	Failed bool `json:"failed,omitempty"`
	// LastDuration and LastExitStatus describe the newest run that ended.
	LastDuration   time.Duration `json:"last_duration,omitempty"`
	HasExitStatus  bool          `json:"has_exit_status,omitempty"`
	LastExitStatus int           `json:"last_exit_status,omitempty"`
	// Runs are the newest runs, oldest first, at most maxRuns.
	Runs []Run `json:"runs,omitempty"`
}

// RunState is what a run came to.
type RunState string

const (
	RunRunning RunState = "running"
	RunSuccess RunState = "success"
	RunFailed  RunState = "failed"
	RunLog     RunState = "log"
	// RunUnfinished is a run that never ended: a new start with its run id came first.
	RunUnfinished RunState = "unfinished"
)

// Run is one execution of the job as its signals reported it: a start, an end, or both
// (paired by RID). A log signal is a run of its own with only an end.
type Run struct {
	RID     string    `json:"rid,omitempty"`
	State   RunState  `json:"state"`
	Started time.Time `json:"started,omitzero"`
	Ended   time.Time `json:"ended,omitzero"`
	// ExitStatus is -1 when the job did not say (a plain fail, a running job).
	ExitStatus int    `json:"exit_status"`
	Output     string `json:"output,omitempty"`
}

// Duration is how long a run that has both a start and an end took.
func (r *Run) Duration() (time.Duration, bool) {
	if r.Started.IsZero() || r.Ended.IsZero() {
		return 0, false
	}
	return r.Ended.Sub(r.Started), true
}

// Limits of what signals store: runs are bounded per canary so that memory stays
// bounded, and their output is bounded per run and per canary (the oldest runs lose
// their output first).
const (
	maxRuns         = 100
	MaxOutputBytes  = 10000
	maxCanaryOutput = 100000
	maxRIDBytes     = 128
	maxExitStatus   = 255
	// MaxGraceSeconds bounds grace, max_runtime and a pause's length.
	MaxGraceSeconds = 366 * 24 * 3600
)

// minRenotify keeps repeats from becoming a flood.
const minRenotify = time.Second

// outputCutMark ends an output that was cut to MaxOutputBytes.
const outputCutMark = "\n[output cut at 10000 bytes]"

// CutOutput keeps at most MaxOutputBytes of a job's output, with invalid bytes replaced
// (which can make it longer) and cut on a character boundary, and marks a cut.
func CutOutput(b []byte) string {
	cut := len(b) > MaxOutputBytes
	if cut {
		b = b[:MaxOutputBytes]
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	for len(s) > MaxOutputBytes {
		_, size := utf8.DecodeLastRuneInString(s)
		s, cut = s[:len(s)-size], true
	}
	if cut {
		s += outputCutMark
	}
	return s
}

// State is the canary's state as the API names it.
func (c *Canary) State() string {
	switch {
	case c.Paused:
		return "paused"
	case c.Late && c.Job != nil && c.Job.Failed:
		return "failed"
	case c.Late:
		return "late"
	case c.Job != nil && !c.Job.Started.IsZero():
		return "started"
	}
	return "up"
}

// LateAt is the moment the canary goes late: its deadline, or sooner the end of a
// started run's max runtime. Zero while paused.
func (c *Canary) LateAt() time.Time {
	if c.Paused {
		return time.Time{}
	}
	d := c.Deadline
	if over, ok := c.overrunAt(); ok && (d.IsZero() || over.Before(d)) {
		d = over
	}
	return d
}

// overrunAt is when a started run exceeds the max runtime.
func (c *Canary) overrunAt() (time.Time, bool) {
	if c.Job == nil || c.Job.Started.IsZero() || c.Job.MaxRuntime <= 0 {
		return time.Time{}, false
	}
	return c.Job.Started.Add(c.Job.MaxRuntime), true
}

// Wake is when the leader must act on this canary, and whether it must at all: when it
// goes late (not late or paused yet), or when a timed pause ends.
func (c *Canary) Wake() (time.Time, bool) {
	if c.Paused {
		if c.Job != nil && !c.Job.PausedUntil.IsZero() {
			return c.Job.PausedUntil, true
		}
		return time.Time{}, false
	}
	if c.Late {
		if at, ok := c.repeatAt(); ok {
			return at, true
		}
		return time.Time{}, false
	}
	at := c.LateAt()
	return at, !at.IsZero()
}

// repeatAt is when a late canary's alert is due again (renotify).
func (c *Canary) repeatAt() (time.Time, bool) {
	if c.Job == nil || c.Job.Renotify <= 0 || c.Job.Notified.IsZero() {
		return time.Time{}, false
	}
	return c.Job.Notified.Add(c.Job.Renotify), true
}

// alerted records in c (a copy about to be stored) that an alert was queued at at, so
// that a renotify counts from it.
func (c *Canary) alerted(at time.Time) {
	if c.Job != nil && c.Job.Renotify > 0 {
		j := c.job()
		j.Notified = at
		c.Job = j
	}
}

// Cron returns the canary's cron expression ("" when it has a periodicity).
func (c *Canary) Cron() string {
	if c.Job == nil {
		return ""
	}
	return c.Job.Cron
}

// PlayOut shows how the canary's schedule plays out from now, in its time zone.
func (c *Canary) PlayOut(now time.Time) ([]Window, error) {
	loc := time.UTC
	if c.Job != nil {
		var err error
		if loc, err = schedule.LoadZone(c.Job.TZ); err != nil {
			return nil, err
		}
	}
	return c.Periodicity.PlayOutIn(now, loc)
}

// job returns a copy of the canary's Job to change (a new one if it has none).
func (c *Canary) job() *Job {
	if c.Job == nil {
		return &Job{}
	}
	j := *c.Job
	return &j
}

// compact drops a Job that holds nothing, so a canary returns to the original's shape.
func compact(j *Job) *Job {
	if j == nil || (j.Grace == 0 && j.MaxRuntime == 0 && j.TZ == "" && j.Cron == "" && j.Renotify == 0 && j.Notified.IsZero() && len(j.Channels) == 0 &&
		j.PausedUntil.IsZero() && j.Started.IsZero() && !j.Failed && j.LastDuration == 0 &&
		!j.HasExitStatus && len(j.Runs) == 0) {
		return nil
	}
	return j
}

// expected computes the deadline of a canary triggered (or created, unpaused, updated)
// at whence: the periodicity's deadline or the next cron time, read in the canary's
// zone, plus its grace.
func expected(p Periodicity, j *Job, whence time.Time) (time.Time, error) {
	if j == nil {
		return p.Deadline(whence)
	}
	loc, err := schedule.LoadZone(j.TZ)
	if err != nil {
		return time.Time{}, invalid(err.Error())
	}
	var d time.Time
	if j.Cron != "" {
		cron, err := parsedCron(j.Cron)
		if err != nil {
			return time.Time{}, invalid("malformed cron: " + err.Error())
		}
		if d, err = cron.Next(whence, loc); err != nil {
			return time.Time{}, invalid("cron: " + err.Error())
		}
	} else if d, err = p.DeadlineIn(whence, loc); err != nil {
		return time.Time{}, err
	}
	return d.Add(j.Grace).UTC().Truncate(time.Microsecond), nil
}

// cronCache keeps parsed cron expressions, as scheduleCache does schedules.
var cronCache sync.Map // string -> *schedule.Cron

func parsedCron(text string) (*schedule.Cron, error) {
	if c, ok := cronCache.Load(text); ok {
		return c.(*schedule.Cron), nil
	}
	c, err := schedule.ParseCron(text)
	if err != nil {
		return nil, err
	}
	cronCache.Store(text, c)
	return c, nil
}

// validateJobSettings checks the settings a create, update or import gives.
func validateJobSettings(j *Job) error {
	if j == nil {
		return nil
	}
	if err := validateSpan("grace", j.Grace); err != nil {
		return err
	}
	if err := validateSpan("max_runtime", j.MaxRuntime); err != nil {
		return err
	}
	if err := validateSpan("renotify", j.Renotify); err != nil {
		return err
	}
	if j.Renotify > 0 && j.Renotify < minRenotify {
		return invalid(fmt.Sprintf("renotify must be 0 or at least %d seconds", int(minRenotify.Seconds())))
	}
	if _, err := schedule.LoadZone(j.TZ); err != nil {
		return invalid(err.Error())
	}
	if j.Cron != "" {
		if _, err := parsedCron(j.Cron); err != nil {
			return invalid("malformed cron: " + err.Error())
		}
	}
	return nil
}

func validateSpan(name string, d time.Duration) error {
	if d < 0 || d > MaxGraceSeconds*time.Second {
		return invalid(fmt.Sprintf("%s must be between 0 and %d seconds", name, MaxGraceSeconds))
	}
	return nil
}

// validateRID keeps run ids short and printable: they come from job scripts.
func validateRID(rid string) error {
	if len(rid) > maxRIDBytes {
		return invalid(fmt.Sprintf("rid must be at most %d bytes", maxRIDBytes))
	}
	for _, r := range rid {
		if r < 0x21 || r > 0x7e {
			return invalid("rid must be printable ASCII without spaces")
		}
	}
	return nil
}

// addRun appends a run, keeping at most maxRuns and at most maxCanaryOutput bytes of
// output. It copies: the old slice belongs to the stored canary.
func addRun(runs []Run, r Run) []Run {
	start := max(0, len(runs)+1-maxRuns)
	out := make([]Run, 0, len(runs)-start+1)
	out = append(out, runs[start:]...)
	out = append(out, r)
	return trimOutput(out)
}

// trimOutput empties the output of the oldest runs until the total fits.
func trimOutput(runs []Run) []Run {
	total := 0
	for i := range runs {
		total += len(runs[i].Output)
	}
	for i := 0; total > maxCanaryOutput && i < len(runs); i++ {
		total -= len(runs[i].Output)
		runs[i].Output = ""
	}
	return runs
}

// openRun finds the newest running run with the given rid (-1: none).
func openRun(runs []Run, rid string) int {
	for i := len(runs) - 1; i >= 0; i-- {
		if runs[i].State == RunRunning && runs[i].RID == rid {
			return i
		}
	}
	return -1
}

// exitComment is "Failed (exit status 3)" or "Failed".
func exitComment(verb string, status int) string {
	if status < 0 {
		return verb
	}
	return verb + " (exit status " + strconv.Itoa(status) + ")"
}
