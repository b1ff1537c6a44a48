package schedule

import (
	"fmt"
	"time"
)

// cronSearchYears bounds Next's search. Five years would not do: a valid
// expression can go longer without a match ("0 0 29 2 *" from 2097 waits until
// 2104; February 29th on a Sunday with "0 0 29 2 */7" comes 40 years apart). The
// Gregorian calendar repeats every 400 years, so anything ParseCron accepts
// matches within that, and the search walks months, not minutes, to get there.
const cronSearchYears = 401

// maxCronSeconds keeps Next's arithmetic far from overflow: ±300,000 years.
const maxCronSeconds = 300000 * 366 * 86400

// Next returns the first time strictly after `after` at which the job runs, with
// the expression matched against wall-clock time in loc (nil means UTC). The
// result is in UTC, on a whole second (a whole minute unless loc's offset has
// seconds, as some pre-1900 local mean times do).
//
// Clock changes are handled as cronie handles them, for the two kinds of job it
// distinguishes: a "fixed-time" job, whose minute and hour fields both start with
// something other than '*' ("30 2 * * *", "0 9-17 * * *"), and a "wildcard" job,
// all others ("*/15 * * * *", "30 * * * *", "@hourly").
//
//   - Spring forward: the wall times that the clock skips run, for a fixed-time
//     job, at the instant of the jump, once however many of them match ("30 2 * * *"
//     on the day Berlin skips 02:00-02:59 runs at 03:00 CEST). A wildcard job only
//     runs at the wall times that do happen.
//   - Fall back: a fixed-time job runs at the first occurrence of a repeated wall
//     time only; a wildcard job runs at both (its runs follow elapsed time, so
//     "*/30 * * * *" runs at 01:00 and 01:30 twice when New York repeats 01:xx).
//
// The error (wrapping ErrBadCron) is for `after` more than 300,000 years away from
// 1970, or no match within 401 years, which cannot happen for expressions
// ParseCron accepts.
func (c *Cron) Next(after time.Time, loc *time.Location) (time.Time, error) {
	sec := after.Unix()
	if sec > maxCronSeconds || sec < -maxCronSeconds {
		return time.Time{}, fmt.Errorf("%w: %q: time %v out of range", ErrBadCron, c.text, after)
	}
	// Runs are on whole seconds, so the first one after `after` is at from or later.
	from := sec + 1
	limit := from + maxZoneShift + cronSearchYears*366*86400 // wall-clock seconds
	if loc == nil || loc == time.UTC {
		if m, ok := c.nextWall(ceilDiv(from, 60), limit/60); ok {
			return instant(m * 60), nil
		}
		return time.Time{}, c.noMatch()
	}

	// Walk the zone's periods (stretches with one UTC offset) from the one holding
	// `from`. Runs in a period come after every run of earlier periods, so the first
	// run found is the answer.
	p := periodAt(loc, from)
	reached := wallReachedBefore(loc, p) // wall times below this have happened
	for i := 0; p.start+p.offset < limit; i++ {
		if i > 4*cronSearchYears+maxZonePeriods {
			break // zones change offset a few times a year at most
		}
		// The wall times skipped when p began: [reached, p's first wall time).
		if c.fixed && p.start >= from && reached < p.start+p.offset {
			if _, ok := c.nextWall(ceilDiv(reached, 60), ceilDiv(p.start+p.offset, 60)); ok {
				return instant(p.start), nil
			}
		}
		low := max(from, p.start) + p.offset
		if c.fixed {
			low = max(low, reached) // a repeated wall time has run already
		}
		high := min(p.end+p.offset, limit)
		if m, ok := c.nextWall(ceilDiv(low, 60), ceilDiv(high, 60)); ok {
			return instant(m*60 - p.offset), nil
		}
		if p.end >= farFuture {
			break
		}
		reached = max(reached, p.end+p.offset)
		p = periodAfter(loc, p)
	}
	return time.Time{}, c.noMatch()
}

func (c *Cron) noMatch() error {
	return fmt.Errorf("%w: %q: no match within %d years", ErrBadCron, c.text, cronSearchYears)
}

// ceilDiv is a/b rounded up, for b > 0.
func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }
