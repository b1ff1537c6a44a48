package schedule

import (
	"math/bits"
	"time"
)

// DeadlineIn is Deadline with the directives' cron fields read as wall-clock time
// in loc: "* 9-17 * * mon-fri 60" is active from 09:00 to 17:59 as clocks in loc
// show it. Periodicities stay elapsed time, and the result is an instant in UTC.
// Around clock changes window boundaries follow the package's DST rule. A nil loc,
// or time.UTC, is Deadline itself.
func (s *Schedule) DeadlineIn(whence time.Time, loc *time.Location) (time.Time, error) {
	if loc == nil || loc == time.UTC {
		return s.Deadline(whence)
	}
	return zoned{s: s, loc: loc}.deadline(whence)
}

// PlayOutIn is PlayOut with the cron fields read as wall-clock time in loc (see
// DeadlineIn). Window Start and End are instants in UTC; the play-out still covers
// a week of elapsed time from start's minute. A nil loc, or time.UTC, is PlayOut
// itself.
func (s *Schedule) PlayOutIn(start time.Time, loc *time.Location) ([]Window, error) {
	if loc == nil || loc == time.UTC {
		return s.PlayOut(start)
	}
	return zoned{s: s, loc: loc}.playOut(start)
}

// zoned evaluates a schedule on a zone's wall clock. Its deadline and playOut are
// Deadline's and PlayOut's algorithms with minutes read as wall-clock minutes
// (counted from 1970-01-01T00:00 as the clock reads it) that take effect at the
// instants wallToInstant gives. UTC keeps its own copies of the algorithms rather
// than going through here: this way costs a branch per step, measurably slower on
// the hot UTC path. TestZonedUTCIsDeadline runs this code in Etc/UTC against the
// UTC code, so the two cannot drift apart unnoticed.
//
// A window in a zone is a maximal run of wall-clock minutes with one state; its
// start and end take effect at the instants of their wall-clock minutes. A window
// that lies wholly in wall time skipped by a spring-forward would take effect and
// end at the same instant, so it is left out, and its neighbours meet (and merge
// if their states are equal).
type zoned struct {
	s   *Schedule
	loc *time.Location
}

// sec returns the Unix second at which wall-clock minute m takes effect.
func (z zoned) sec(m int64) int64 {
	sec, _ := wallToInstant(z.loc, m)
	return sec
}

// deadline is Deadline's case analysis (see there) on the wall clock.
func (z zoned) deadline(whence time.Time) (time.Time, error) {
	s := z.s
	whence = whence.UTC()
	m, _ := instantToWall(z.loc, whence.Unix())
	w0, err := z.window(m)
	if err != nil {
		return time.Time{}, err
	}
	if w0.state.kind == gap { // case 2
		w1, err := z.windowAfter(w0)
		if err != nil {
			return time.Time{}, err
		}
		if err := z.checkMinuteAfter(w1); err != nil {
			return time.Time{}, err
		}
		return instant(z.sec(w1.start)).Add(s.period(w1)), nil
	}
	if err := z.checkMinuteAfter(w0); err != nil {
		return time.Time{}, err
	}
	deadline := whence.Add(s.period(w0))
	// The start of W0's last minute is a minute before W1 takes effect.
	if !w0.ends() || !deadline.After(instant(z.sec(w0.end)-60)) { // case 1
		return deadline, nil
	}
	w1, err := z.windowAfter(w0)
	if err != nil {
		return time.Time{}, err
	}
	if w1.state.kind == gap { // case 3
		w2, err := z.windowAfter(w1)
		if err != nil {
			return time.Time{}, err
		}
		if err := z.checkMinuteAfter(w2); err != nil {
			return time.Time{}, err
		}
		return instant(z.sec(w2.start)).Add(s.period(w2)), nil
	}
	if err := z.checkMinuteAfter(w1); err != nil { // case 4
		return time.Time{}, err
	}
	start := instant(z.sec(w1.start))
	if deadline := whence.Add(s.period(w1)); deadline.After(start) {
		return deadline, nil
	}
	return start, nil
}

// playOut is PlayOut on the wall clock. The first window starts at the start of
// start's minute (as the clock read it at start), the week ends at the start of
// the minute a week of elapsed time later.
func (z zoned) playOut(start time.Time) ([]Window, error) {
	start = start.UTC()
	first, firstSec := instantToWall(z.loc, start.Unix())
	untilAll, err := z.untilAllAppear(first, firstSec)
	if err != nil {
		return nil, err
	}
	_, endSec := instantToWall(z.loc, start.Add(playOutWeek).Unix())
	week, err := z.until(first, firstSec, endSec)
	if err != nil {
		return nil, err
	}
	if len(untilAll) > len(week) {
		return untilAll, nil
	}
	return week, nil
}

// untilAllAppear is Schedule.untilAllAppear from wall minute t, whose window is
// shown as starting at the instant tSec.
func (z zoned) untilAllAppear(t, tSec int64) ([]Window, error) {
	s := z.s
	var windows []Window
	var seen uint64
	sawGap := false
	for len(windows) < maxPlayOutWindows {
		r, err := z.window(t)
		if err != nil {
			return nil, err
		}
		if !r.ends() {
			return append(windows, z.windowOf(r, tSec, instant(tSec).Add(playOutWeek))), nil
		}
		if err := z.checkMinuteAfter(r); err != nil {
			return nil, err
		}
		endSec := z.sec(r.end)
		windows = append(windows, z.windowOf(r, tSec, instant(endSec-60)))
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
		t, tSec = r.end, endSec
	}
	return windows, nil
}

// until is Schedule.until from wall minute t (shown as starting at tSec) to the
// instant endSec.
func (z zoned) until(t, tSec, endSec int64) ([]Window, error) {
	var windows []Window
	for tSec < endSec {
		r, err := z.window(t)
		if err != nil {
			return nil, err
		}
		if !r.ends() {
			return append(windows, z.windowOf(r, tSec, instant(endSec))), nil
		}
		rEnd := z.sec(r.end)
		if rEnd >= endSec {
			return append(windows, z.windowOf(r, tSec, instant(endSec))), nil
		}
		windows = append(windows, z.windowOf(r, tSec, instant(rEnd-60)))
		t, tSec = r.end, rEnd
	}
	return windows, nil
}

func (z zoned) windowOf(r run, startSec int64, end time.Time) Window {
	w := z.s.windowOf(r, end)
	w.Start = instant(startSec)
	return w
}

// window returns the window in force from wall minute t on, which must be visible
// (as instantToWall's and window's results are), or the overlap error.
func (z zoned) window(t int64) (run, error) {
	r := z.s.runFrom(t)
	if r.state.kind == overlap {
		return r, z.overlapAt(t)
	}
	// If the run ends inside a spring-forward gap, the next state that is ever in
	// force is the one of the first visible minute: end the window there, or go on
	// if that state is the same.
	for r.ends() {
		_, next := wallToInstant(z.loc, r.end)
		if next == r.end {
			break
		}
		if st := z.s.stateAtMinute(next); st != r.state {
			r.end = next
			break
		}
		more := z.s.runFrom(next)
		r.end, r.seen = more.end, r.seen|more.seen
	}
	return r, nil
}

// windowAfter returns the window that follows r.
func (z zoned) windowAfter(r run) (run, error) {
	if !r.ends() {
		return z.s.windowAfter(r) // the same defensive error
	}
	return z.window(r.end)
}

// checkMinuteAfter fails if the minute after r holds an overlap, as the original
// looks at it (here the first minute after r that is in force).
func (z zoned) checkMinuteAfter(r run) error {
	if r.ends() && z.s.stateAtMinute(r.end).kind == overlap {
		return z.overlapAt(r.end)
	}
	return nil
}

// overlapAt describes the overlap at wall minute t, with the time as loc shows it.
func (z zoned) overlapAt(t int64) error {
	return z.s.overlapAtWhen(t, time.Unix(z.sec(t), 0).In(z.loc).Format(time.RFC3339))
}
