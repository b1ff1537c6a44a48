// Package schedule implements Coal Mine's crontab-like periodicity schedules: parsing,
// overlap validation, deadline arithmetic and the "periodicity_schedule" play-out.
//
// A schedule is a list of directives separated by ';'. Each directive is five cron
// fields (minute hour day-of-month month day-of-week) followed by the number of
// seconds allowed between triggers while the directive is active, e.g.
//
//	# 5-minute delays are ok on weekends ;
//	* * * * sat,sun 300 ;
//	* 0-12 * * mon-fri 300 ;
//	* 13-23 * * mon-fri 90
//
// The cron fields mean what the Python "crontab" package (parse-crontab 1.0.x) that
// the original Coal Mine used makes of them; field.go lists the details. Deadline
// and PlayOut read them in UTC. The package is pure: no clock, no I/O (but reading
// its embedded time zone database), no randomness, and a *Schedule is immutable,
// so it may be shared between goroutines: the state machine calls it in Apply, and
// every replica must get the same answers.
//
// # Time zones
//
// DeadlineIn and PlayOutIn read the cron fields as wall-clock time in a zone
// (LoadZone reads zones from the embedded database, never the host's). The
// seconds between triggers stay elapsed time. A window begins and ends at wall-clock
// minutes, which take effect at these instants when the clock changes:
//
//   - a boundary at a wall time that does not exist (spring forward: Berlin's
//     2026-03-29 02:00-02:59) takes effect at the transition instant, 03:00 CEST; a
//     window lying wholly in the skipped wall time is never in force, and the
//     windows on either side of it meet (one window if their states are equal);
//   - a boundary at a wall time that happens twice (fall back: Berlin's 2026-10-25
//     02:00-02:59) takes effect at its first occurrence; during the second pass the
//     window in force at the end of the first pass stays in force, until the first
//     boundary after the repeated hour.
//
// So windows always follow each other in time, and a night window "* 0-8 * * *"
// lasts 8 hours on the spring-forward day and 10 on the fall-back day. With
// time.UTC (or nil) the results are exactly Deadline's and PlayOut's.
//
// # Standard cron
//
// Cron (ParseCron, Next) is standard Vixie/cronie cron, for monitoring cron jobs;
// cron.go and cron_next.go give its rules, including cronie's handling of clock
// changes, which is not the schedules' window rule above.
//
// Time is handled in whole minutes: a directive is active for a whole minute or not
// at all. The schedule's "state" in a minute is a gap (no directive active), the key
// of the one active directive (its seconds field as written, so "300" and "300.0"
// are different keys, as in the original), or an overlap (an error). A window is a
// maximal run of minutes with the same state. Windows are found by jumping over
// days and months with bitmasks, never by walking minute by minute.
package schedule

import (
	"errors"
	"math"
	"time"
)

// ErrInvalid is wrapped by every error about a schedule that cannot be used.
var ErrInvalid = errors.New("malformed periodicity schedule")

// ErrOverlap is wrapped (together with ErrInvalid) by errors about two directives
// that are active in the same minute.
var ErrOverlap = errors.New("overlapping schedule directives are not allowed")

// maxDirectives bounds the number of directives so that a day's set of active
// directives fits a uint64. Real schedules have a handful.
const maxDirectives = 64

// Schedule is a parsed periodicity schedule. It is immutable after Parse.
type Schedule struct {
	dirs []directive
	keys []key
	// all has one bit per directive.
	all uint64
	// overlapping is true when some two directives are active in a same minute on
	// some calendar day (what Validate rejects).
	overlapping bool
	// constant is true when one key is active in every minute of every day, so
	// there is a single window that never ends.
	constant bool
}

// key is a distinct seconds field. Directives with the same key text merge into
// one window when they follow each other, as in the original.
type key struct {
	text    string
	seconds float64
	period  time.Duration
}

// Window is one stretch of a schedule's play-out, as the original's
// "periodicity_schedule" shows it.
type Window struct {
	// Start is the first minute of the window.
	Start time.Time
	// End is the start of the window's last minute, as in the original, except for
	// the last window of a week-long play-out, which ends exactly at the end of the
	// week (again as the original does).
	End time.Time
	// Seconds is the periodicity in force during the window; 0 when inactive.
	Seconds float64
	// Active is false for a gap in the schedule ("Inactive" in the original).
	Active bool
}

// Len returns the number of directives (comments excluded).
func (s *Schedule) Len() int { return len(s.dirs) }

// Shortest returns the smallest seconds value of the schedule's directives, and the
// first directive that has it. Parse accepts any positive value, as the original
// does; a lower bound is the caller's rule (fsm's periodicity floor), so that a
// schedule stored before such a bound existed still parses and still has deadlines.
func (s *Schedule) Shortest() (seconds float64, directive string) {
	seconds = math.Inf(1)
	for _, d := range s.dirs {
		if k := s.keys[d.key]; k.seconds < seconds {
			seconds, directive = k.seconds, d.text
		}
	}
	return seconds, directive
}

// Validate returns an error wrapping ErrOverlap (and ErrInvalid) if two of the
// schedule's directives are active in the same minute on any calendar day.
func (s *Schedule) Validate() error {
	if !s.overlapping {
		return nil
	}
	a, b := s.firstOverlappingPair()
	return overlapError(s.dirs[a].text, s.dirs[b].text, "")
}

// Validate parses a schedule and checks that no two of its directives are ever
// active in the same minute. Unlike Deadline, which (like the original) only notices
// an overlap it runs into, this is exact over the whole calendar: it checks every
// kind of day (month, day of month, month length, weekday), which is what the
// 400-year Gregorian cycle can produce.
func Validate(text string) error {
	s, err := Parse(text)
	if err != nil {
		return err
	}
	return s.Validate()
}
