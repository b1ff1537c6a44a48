package fsm

import (
	"slices"
	"time"
	"unicode/utf8"
)

// History comments of signals. A success keeps the original's "Triggered".
const (
	startedComment      = "Started"
	failedComment       = "Failed"
	logComment          = "Log"
	pauseExpiredComment = "Unpaused (pause expired)"
	// maxPause bounds a timed pause.
	maxPause = 10 * 366 * 24 * time.Hour
)

// signal applies a job's start, success, failure or log. plain is a TypeTrigger on a
// canary that has a Job: it ends a matching run but records none of its own, and it
// leaves the exit status unknown.
func (f *FSM) signal(at time.Time, s *Signal, plain bool) Result {
	old := f.target(s.ID, s.Slug)
	if old == nil {
		return Result{Err: ErrNotFound}
	}
	if err := validateSignal(s); err != nil {
		return Result{Err: err}
	}
	switch s.Kind {
	case SignalLog:
		c := *old
		job := old.job()
		job.Runs = addRun(job.Runs, Run{RID: s.RID, State: RunLog, Ended: at, ExitStatus: -1, Output: s.Output})
		c.Job = job
		c.History = old.History.add(at, withComment(logComment, s.Comment))
		f.store(&c)
		return Result{Canary: &c, Changed: true}
	case SignalStart:
		return f.start(at, old, s)
	}
	return f.end(at, old, s, plain)
}

// start marks the canary started. Like a trigger it unpauses the canary; it neither
// clears lateness nor moves the deadline (a started job has not succeeded yet).
func (f *FSM) start(at time.Time, old *Canary, s *Signal) Result {
	c := *old
	if old.Paused {
		res := f.resume(at, old, withComment(startedComment, s.Comment))
		if res.Err != nil {
			return res
		}
		c = *res.Canary
	} else {
		c.History = old.History.add(at, withComment(startedComment, s.Comment))
	}
	job := c.job()
	job.Started, job.StartedRID = at, s.RID
	// A new start with the same run id means the one before never ended (a crash): it
	// stops counting as running, so it can never hold the canary started.
	runs := job.Runs
	if i := openRun(runs, s.RID); i >= 0 {
		runs = slices.Clone(runs)
		runs[i].State = RunUnfinished
	}
	job.Runs = addRun(runs, Run{RID: s.RID, State: RunRunning, Started: at, ExitStatus: -1, Output: s.Output})
	c.Job = job
	f.store(&c)
	return Result{Canary: &c, Unpaused: old.Paused, Changed: true}
}

// end records a success or a failure: the run it ends (the newest running one with the
// same run id) gets its end, exit status and output, the deadline starts again from
// at, and the canary is up (success) or late (failure).
func (f *FSM) end(at time.Time, old *Canary, s *Signal, plain bool) Result {
	deadline, err := expected(old.Periodicity, old.Job, at)
	if err != nil {
		return Result{Err: err}
	}
	failed := s.Kind == SignalFail
	status := s.ExitStatus
	state := RunFailed
	if !failed {
		state = RunSuccess
		if status < 0 && !plain {
			status = 0
		}
	}
	c := *old
	job := old.job()
	job.HasExitStatus, job.LastExitStatus = status >= 0, max(status, 0)
	i := openRun(job.Runs, s.RID)
	if i < 0 && s.RID == "" {
		// An end without a run id ends the newest run, whatever its run id.
		i = newestRunningRun(job.Runs)
	}
	if i >= 0 {
		runs := slices.Clone(job.Runs)
		r := &runs[i]
		r.Ended, r.State, r.ExitStatus = at, state, status
		r.Output = joinOutput(r.Output, s.Output)
		job.Runs = trimOutput(runs)
		job.LastDuration = at.Sub(r.Started)
	} else {
		if !plain {
			job.Runs = addRun(job.Runs, Run{RID: s.RID, State: state, Ended: at, ExitStatus: status, Output: s.Output})
		}
		job.LastDuration = 0
		if !job.Started.IsZero() && s.RID == job.StartedRID {
			// Its start has dropped out of the runs kept.
			job.LastDuration = at.Sub(job.Started)
		}
		if plain {
			job.HasExitStatus, job.LastExitStatus = old.Job.HasExitStatus, old.Job.LastExitStatus
		}
	}
	// An end without a run id, or with the newest start's, ends the started state
	// (as in Healthchecks); one with another run id ends only its own run. Another run
	// still going then holds the canary started, so its max runtime is still watched.
	if s.RID == "" || s.RID == job.StartedRID {
		job.Started, job.StartedRID = newestRunning(job.Runs)
	}
	job.PausedUntil = time.Time{}
	c.Deadline = deadline
	c.Paused = false
	c.Late = failed
	wasFailed := old.failed()
	job.Failed = failed
	c.Job = compact(job)
	if failed && !wasFailed {
		c.alerted(at)
	}
	if failed {
		c.History = old.History.add(at, withComment(exitComment(failedComment, s.ExitStatus), s.Comment))
	} else {
		c.History = old.History.add(at, withComment(triggerComment, s.Comment))
	}
	f.store(&c)
	switch {
	case failed && !wasFailed:
		f.enqueueFailure(at, &c, s.ExitStatus)
	case !failed && old.Late:
		f.enqueue(KindResumed, at, &c)
	}
	return Result{Canary: &c, Recovered: !failed && old.Late, Unpaused: old.Paused, Changed: true}
}

// newestRunning is the start and run id of the newest run still running (zero: none).
func newestRunning(runs []Run) (time.Time, string) {
	if i := newestRunningRun(runs); i >= 0 {
		return runs[i].Started, runs[i].RID
	}
	return time.Time{}, ""
}

// newestRunningRun is the index of the newest run still running (-1: none).
func newestRunningRun(runs []Run) int {
	for i := len(runs) - 1; i >= 0; i-- {
		if runs[i].State == RunRunning {
			return i
		}
	}
	return -1
}

// renotify queues a repeat of a late canary's alert, once its interval has passed.
func (f *FSM) renotify(at time.Time, r *Renotify) Result {
	old := f.lookup(r.ID)
	if old == nil || !old.Late || old.Paused {
		return Result{}
	}
	due, ok := old.repeatAt()
	if !ok || at.Before(due) {
		return Result{}
	}
	c := *old
	c.alerted(at)
	f.store(&c)
	f.enqueue(KindRepeat, at, &c)
	return Result{Canary: &c, Changed: true}
}

// expirePause ends a timed pause, once: a manual unpause, a trigger or a new pause
// since then makes it a no-op.
func (f *FSM) expirePause(at time.Time, e *ExpirePause) Result {
	old := f.lookup(e.ID)
	if old == nil || !old.Paused || old.Job == nil || !old.Job.PausedUntil.Equal(e.Until) || at.Before(e.Until) {
		return Result{}
	}
	return f.resume(at, old, pauseExpiredComment)
}

// failed reports whether the canary is late because its job reported a failure.
func (c *Canary) failed() bool { return c.Late && c.Job != nil && c.Job.Failed }

func validateSignal(s *Signal) error {
	switch s.Kind {
	case SignalStart, SignalSuccess, SignalFail, SignalLog:
	default:
		return invalid("state must be start, success, fail or log")
	}
	if s.ExitStatus < -1 || s.ExitStatus > maxExitStatus {
		return invalid("exit_status must be between 0 and 255")
	}
	if err := validateComment(s.Comment); err != nil {
		return err
	}
	if err := validateRID(s.RID); err != nil {
		return err
	}
	if len(s.Output) > MaxOutputBytes+len(outputCutMark) || !utf8.ValidString(s.Output) {
		return invalid("output must be valid UTF-8, at most 10000 bytes")
	}
	return nil
}

// joinOutput puts a run's start and end output together, within the bound.
func joinOutput(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return CutOutput([]byte(a + "\n" + b))
}

// withSettings applies a create's or update's settings to a copy of j (nil: none).
func withSettings(j *Job, s *Settings) *Job {
	if !s.any() {
		return j
	}
	var out Job
	if j != nil {
		out = *j
	}
	if s.Grace != nil {
		out.Grace = s.Grace.Truncate(time.Microsecond)
	}
	if s.MaxRuntime != nil {
		out.MaxRuntime = s.MaxRuntime.Truncate(time.Microsecond)
	}
	if s.Renotify != nil {
		out.Renotify = s.Renotify.Truncate(time.Microsecond)
	}
	if s.Channels != nil {
		out.Channels = slices.Compact(slices.Sorted(slices.Values(*s.Channels)))
		if len(out.Channels) == 0 {
			out.Channels = nil
		}
	}
	if s.TZ != nil {
		out.TZ = *s.TZ
		if out.TZ == "UTC" {
			out.TZ = ""
		}
	}
	if s.Cron != nil {
		out.Cron = *s.Cron
	}
	return compact(&out)
}

// sameSettings compares what a create or update can set.
func sameSettings(a, b *Job) bool {
	var x, y Job
	if a != nil {
		x = *a
	}
	if b != nil {
		y = *b
	}
	return sameTiming(a, b) && x.MaxRuntime == y.MaxRuntime && x.Renotify == y.Renotify && slices.Equal(x.Channels, y.Channels)
}

// sameTiming compares what the deadline depends on.
func sameTiming(a, b *Job) bool {
	var x, y Job
	if a != nil {
		x = *a
	}
	if b != nil {
		y = *b
	}
	return x.Grace == y.Grace && x.TZ == y.TZ && x.Cron == y.Cron
}

// validateTiming checks that a canary has exactly one of a periodicity and a cron, and
// its settings. minPeriodicity is the floor for a periodicity the command sets.
func validateTiming(p Periodicity, j *Job, minPeriodicity float64) error {
	if err := validateJobSettings(j); err != nil {
		return err
	}
	if j != nil && j.Cron != "" {
		if p != (Periodicity{}) {
			return invalid("give a periodicity or a cron, not both")
		}
		return nil
	}
	return p.ValidateNew(minPeriodicity)
}
