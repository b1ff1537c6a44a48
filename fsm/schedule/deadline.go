package schedule

import (
	"fmt"
	"time"
)

// Deadline returns the time by which a canary with this schedule must be triggered
// again after being triggered (or created, unpaused, updated) at whence: the
// original's whence + calculate_periodicity_delta. With W0 the window holding
// whence's minute and W1, W2 the windows after it:
//
//  1. W0 is active and whence + its periodicity is no later than the start of W0's
//     last minute: whence + periodicity.
//  2. W0 is a gap: W1's start + W1's periodicity (even if that is past W1's end: a
//     window is never skipped).
//  3. W0 is active, whence + periodicity runs past it, and W1 is a gap: W2's start +
//     W2's periodicity.
//  4. W0 is active, whence + periodicity runs past it into the active W1:
//     the later of W1's start and whence + W1's periodicity.
//
// Like the original, it fails with ErrOverlap (and ErrInvalid) when the windows it
// looks at, up to and including the first minute after the last one it uses, hold
// an overlap; Validate checks the whole calendar.
func (s *Schedule) Deadline(whence time.Time) (time.Time, error) {
	whence = whence.UTC()
	w0, err := s.window(minuteOf(whence))
	if err != nil {
		return time.Time{}, err
	}
	if w0.state.kind == gap { // case 2
		w1, err := s.windowAfter(w0)
		if err != nil {
			return time.Time{}, err
		}
		if err := s.checkMinuteAfter(w1); err != nil {
			return time.Time{}, err
		}
		return timeOf(w1.start).Add(s.period(w1)), nil
	}
	if err := s.checkMinuteAfter(w0); err != nil {
		return time.Time{}, err
	}
	deadline := whence.Add(s.period(w0))
	if !w0.ends() || !deadline.After(timeOf(w0.end-1)) { // case 1
		return deadline, nil
	}
	w1, err := s.windowAfter(w0)
	if err != nil {
		return time.Time{}, err
	}
	if w1.state.kind == gap { // case 3
		w2, err := s.windowAfter(w1)
		if err != nil {
			return time.Time{}, err
		}
		if err := s.checkMinuteAfter(w2); err != nil {
			return time.Time{}, err
		}
		return timeOf(w2.start).Add(s.period(w2)), nil
	}
	if err := s.checkMinuteAfter(w1); err != nil { // case 4
		return time.Time{}, err
	}
	start := timeOf(w1.start)
	if deadline := whence.Add(s.period(w1)); deadline.After(start) {
		return deadline, nil
	}
	return start, nil
}

// window returns the window starting at minute t, or the overlap error.
func (s *Schedule) window(t int64) (run, error) {
	r := s.runFrom(t)
	if r.state.kind == overlap {
		return r, s.overlapAt(t)
	}
	return r, nil
}

// windowAfter returns the window that follows r.
func (s *Schedule) windowAfter(r run) (run, error) {
	if !r.ends() {
		// Only a gap can be followed by nothing, and Parse rejects directives that
		// are never active; so this is defensive.
		return run{}, fmt.Errorf("%w: the schedule is never active again", ErrInvalid)
	}
	return s.window(r.end)
}

// checkMinuteAfter fails if the minute after r holds an overlap: the original looks
// at that minute to find where r ends.
func (s *Schedule) checkMinuteAfter(r run) error {
	if r.ends() && s.stateAtMinute(r.end).kind == overlap {
		return s.overlapAt(r.end)
	}
	return nil
}

// overlapAt describes the overlap at minute t.
func (s *Schedule) overlapAt(t int64) error {
	return s.overlapAtWhen(t, timeOf(t).Format(time.RFC3339))
}

// overlapAtWhen describes the overlap at minute t, which happens at when.
func (s *Schedule) overlapAtWhen(t int64, when string) error {
	day := floorDiv(t, minutesPerDay)
	c := dayInfoOf(day)
	minuteOfDay := int(t - day*minutesPerDay)
	var names []string
	for i := range s.dirs {
		if s.dirs[i].activeOnDay(&c) && s.dirs[i].activeAt(minuteOfDay) {
			names = append(names, s.dirs[i].text)
		}
	}
	if len(names) < 2 { // cannot happen: t holds an overlap
		names = append(names, "?", "?")
	}
	return overlapError(names[0], names[1], when)
}

// period is the periodicity of an active run.
func (s *Schedule) period(r run) time.Duration { return s.keys[r.state.key].period }

// minuteOf returns the minute (since the epoch) holding t.
func minuteOf(t time.Time) int64 { return floorDiv(t.Unix(), 60) }

// timeOf returns the start of a minute.
func timeOf(minute int64) time.Time { return time.Unix(minute*60, 0).UTC() }

// instant returns the time at Unix second sec, in UTC.
func instant(sec int64) time.Time { return time.Unix(sec, 0).UTC() }
