package schedule

import (
	"math/bits"
	"time"
)

// maxPlayOutWindows bounds the "until every directive has appeared" list. The
// original has no bound; a schedule whose last directive first appears years away
// (a February 29th) with hourly windows meanwhile would otherwise make a list of
// tens of thousands of windows.
const maxPlayOutWindows = 10000

// playOutWeek is how far the fixed-length play-out reaches.
const playOutWeek = 7 * 24 * time.Hour

// PlayOut returns how the schedule plays out from start, as the original's
// periodicity_schedule does: it makes two lists of windows from start's minute, one
// that goes on until every directive has appeared (see untilAllAppear) and one that
// covers a week, and returns the longer (the week on a tie). It fails with ErrOverlap
// (and ErrInvalid) if either list runs into an overlap.
func (s *Schedule) PlayOut(start time.Time) ([]Window, error) {
	start = start.UTC()
	first := minuteOf(start)
	untilAll, err := s.untilAllAppear(first)
	if err != nil {
		return nil, err
	}
	week, err := s.until(first, minuteOf(start.Add(playOutWeek)))
	if err != nil {
		return nil, err
	}
	if len(untilAll) > len(week) {
		return untilAll, nil
	}
	return week, nil
}

// untilAllAppear lists windows from minute t until every directive has been active
// in one of them, counting as the original does: a gap window other than the first
// counts as one more "directive" (so the list can stop before a directive that
// comes after a gap has appeared). It stops after maxPlayOutWindows windows, or at
// a window that never ends (where the original would loop forever).
func (s *Schedule) untilAllAppear(t int64) ([]Window, error) {
	var windows []Window
	var seen uint64
	sawGap := false
	for len(windows) < maxPlayOutWindows {
		r, err := s.window(t)
		if err != nil {
			return nil, err
		}
		if !r.ends() {
			// Only a schedule that is one never-ending window gets here, with this as
			// its only window; the week-long list, never shorter, wins.
			return append(windows, s.windowOf(r, timeOf(r.start).Add(playOutWeek))), nil
		}
		if err := s.checkMinuteAfter(r); err != nil {
			return nil, err
		}
		windows = append(windows, s.windowOf(r, timeOf(r.end-1)))
		seen |= r.seen
		if r.state.kind == gap && len(windows) > 1 {
			sawGap = true
		}
		appeared := bits.OnesCount64(seen)
		if sawGap {
			appeared++
		}
		if appeared >= len(s.dirs) {
			break
		}
		t = r.end
	}
	return windows, nil
}

// until lists the windows from minute t to minute end; the last one is cut at end
// and, as in the original, its End is end itself rather than the minute before.
func (s *Schedule) until(t, end int64) ([]Window, error) {
	var windows []Window
	for t < end {
		r, err := s.window(t)
		if err != nil {
			return nil, err
		}
		if !r.ends() || r.end >= end {
			return append(windows, s.windowOf(r, timeOf(end))), nil
		}
		windows = append(windows, s.windowOf(r, timeOf(r.end-1)))
		t = r.end
	}
	return windows, nil
}

func (s *Schedule) windowOf(r run, end time.Time) Window {
	w := Window{Start: timeOf(r.start), End: end}
	if r.state.kind == active {
		w.Active = true
		w.Seconds = s.keys[r.state.key].seconds
	}
	return w
}
