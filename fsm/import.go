package fsm

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"time"
	"unicode/utf8"
)

// importCanaries recreates canaries as they are, ids included. It is idempotent: a canary
// equal to the stored one is left alone. A canary whose id holds a different canary, or
// whose slug belongs to another id, is a conflict unless Overwrite is set (slug conflicts
// with another id are always conflicts: two canaries cannot share a slug).
func (f *FSM) importCanaries(imp *Import) Result {
	out := &ImportOutcome{Created: []string{}, Unchanged: []string{}, Updated: []string{}, Conflicts: []ImportConflict{}}
	for i := range imp.Canaries {
		c, err := normalizeImported(imp.Canaries[i], imp.MinPeriodicity)
		if err != nil {
			out.Conflicts = append(out.Conflicts, ImportConflict{ID: imp.Canaries[i].ID, Error: err.Error()})
			continue
		}
		if other, ok := f.slugs[c.Slug]; ok && other != c.ID {
			out.Conflicts = append(out.Conflicts, ImportConflict{ID: c.ID, Error: fmt.Sprintf("slug %s belongs to canary %s", c.Slug, other)})
			continue
		}
		old := f.lookup(c.ID)
		switch {
		case old == nil:
			f.store(c)
			out.Created = append(out.Created, c.ID)
		case reflect.DeepEqual(old, c):
			out.Unchanged = append(out.Unchanged, c.ID)
		case !imp.Overwrite:
			out.Conflicts = append(out.Conflicts, ImportConflict{ID: c.ID, Error: "a different canary with this id exists (import with overwrite to replace it)"})
		default:
			delete(f.slugs, old.Slug)
			f.store(c)
			out.Updated = append(out.Updated, c.ID)
		}
	}
	return Result{Import: out, Changed: len(out.Created)+len(out.Updated) > 0}
}

// normalizeImported validates an imported canary and brings it to the form Apply keeps:
// UTC microsecond times, history oldest first and pruned, slug derived from the name, no
// deadline while paused, and a deadline derived from the newest event if one is missing.
// minPeriodicity is the floor the import command carries (Import.MinPeriodicity).
func normalizeImported(in Canary, minPeriodicity float64) (*Canary, error) {
	c := in
	if !validID(c.ID) {
		return nil, invalid("id must be eight lower-case letters")
	}
	if err := validateName(c.Name); err != nil {
		return nil, err
	}
	c.Slug = Slug(c.Name)
	job, err := normalizeImportedJob(in.Job)
	if err != nil {
		return nil, err
	}
	c.Job = job
	if err := validateTiming(c.Periodicity, c.Job, minPeriodicity); err != nil {
		return nil, err
	}
	if err := validateDescription(c.Description); err != nil {
		return nil, err
	}
	c.Emails = nonNil(append([]string(nil), c.Emails...))
	if err := validateEmails(c.Emails); err != nil {
		return nil, err
	}
	hist := in.History.Entries()
	sortHistory(hist)
	if len(hist) > historyMax {
		hist = hist[len(hist)-historyMax:]
	}
	c.History = NewHistory(hist...)
	switch {
	case c.Paused:
		c.Deadline = time.Time{}
	case !c.Deadline.IsZero():
		c.Deadline = c.Deadline.UTC().Truncate(time.Microsecond)
	case c.History.Len() > 0:
		d, err := expected(c.Periodicity, c.Job, c.LastEvent())
		if err != nil {
			return nil, err
		}
		c.Deadline = d
	default:
		return nil, invalid("an unpaused canary needs a deadline or a history")
	}
	return &c, nil
}

// normalizeImportedJob checks an imported Job and brings it to the form Apply keeps:
// UTC microsecond times, bounded runs and output.
func normalizeImportedJob(in *Job) (*Job, error) {
	if in == nil {
		return nil, nil
	}
	j := *in
	if err := validateJobSettings(&j); err != nil {
		return nil, err
	}
	if j.TZ == "UTC" {
		j.TZ = ""
	}
	norm := func(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
	j.Grace, j.MaxRuntime = j.Grace.Truncate(time.Microsecond), j.MaxRuntime.Truncate(time.Microsecond)
	j.LastDuration = j.LastDuration.Truncate(time.Microsecond)
	j.PausedUntil, j.Started, j.Notified = norm(j.PausedUntil), norm(j.Started), norm(j.Notified)
	j.Renotify = j.Renotify.Truncate(time.Microsecond)
	if err := validateRID(j.StartedRID); err != nil {
		return nil, err
	}
	if j.HasExitStatus && (j.LastExitStatus < 0 || j.LastExitStatus > maxExitStatus) {
		return nil, invalid("last_exit_status must be between 0 and 255")
	}
	runs := j.Runs[max(0, len(j.Runs)-maxRuns):]
	j.Runs = make([]Run, 0, len(runs))
	for _, r := range runs {
		switch r.State {
		case RunRunning, RunSuccess, RunFailed, RunLog, RunUnfinished:
		default:
			return nil, invalid(fmt.Sprintf("unknown run state %q", r.State))
		}
		if err := validateRID(r.RID); err != nil {
			return nil, err
		}
		if r.ExitStatus < -1 || r.ExitStatus > maxExitStatus {
			return nil, invalid("a run's exit_status must be between 0 and 255")
		}
		r.Started, r.Ended = norm(r.Started), norm(r.Ended)
		if len(r.Output) > MaxOutputBytes+len(outputCutMark) || !utf8.ValidString(r.Output) {
			r.Output = CutOutput([]byte(r.Output))
		}
		j.Runs = append(j.Runs, r)
	}
	if len(j.Runs) == 0 {
		j.Runs = nil
	}
	j.Runs = trimOutput(j.Runs)
	return compact(&j), nil
}

// sortHistory orders entries oldest first (stable, so equal times keep their order).
func sortHistory(h []HistoryEntry) {
	slices.SortStableFunc(h, func(a, b HistoryEntry) int { return cmp.Compare(a.Micros, b.Micros) })
}
