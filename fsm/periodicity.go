package fsm

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coal-mine/coal-mine/fsm/schedule"
)

// Periodicity is either a number of seconds or a crontab-like schedule (fsm/schedule).
// Exactly one of the two is set.
type Periodicity struct {
	Seconds  float64
	Schedule string
}

// numericPeriodicity is the original server's rule: a value made only of digits and dots
// is a number, anything else is a schedule.
var numericPeriodicity = regexp.MustCompile(`^[0-9.]+$`)

// ParsePeriodicity reads a periodicity the way the original server reads its query
// parameter: "3600", "3600.0" and "1.5" are seconds, anything else is a schedule. The
// value is validated, floor included: it is new input.
func ParsePeriodicity(s string) (Periodicity, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Periodicity{}, invalid("periodicity must not be empty")
	}
	var p Periodicity
	if numericPeriodicity.MatchString(s) {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return Periodicity{}, invalid(fmt.Sprintf("periodicity %q is not a number", s))
		}
		p.Seconds = f
	} else {
		p.Schedule = s
	}
	return p, p.ValidateNew(MinPeriodicitySeconds)
}

// IsSchedule reports whether the periodicity is a schedule rather than a number.
func (p Periodicity) IsSchedule() bool { return p.Schedule != "" }

// Validate checks a periodicity without computing a deadline.
func (p Periodicity) Validate() error {
	if !p.IsSchedule() {
		if math.IsNaN(p.Seconds) || math.IsInf(p.Seconds, 0) || p.Seconds <= 0 {
			return invalid("periodicity must be positive")
		}
		if p.Seconds > maxPeriodicitySeconds {
			return invalid("periodicity is too large (at most 100 years)")
		}
		return nil
	}
	if err := schedule.Validate(p.Schedule); err != nil {
		return invalid("malformed periodicity: " + err.Error())
	}
	return nil
}

// MinPeriodicitySeconds is the shortest periodicity a canary may be given: a number of
// seconds, or the seconds of any directive of a schedule. The original accepts any
// positive value, but below a second a deadline passes before the trigger that set it
// has been answered, so every trigger made a RESUMED and a LATE mail (1e-7 s rounds to
// a deadline equal to the trigger's own time). A cron job cannot report more often
// than every second anyway.
const MinPeriodicitySeconds = 1.0

// ValidateNew is Validate plus the floor: a periodicity that a create, update or import
// sets must be at least min seconds (MinPeriodicitySeconds for new input; Apply uses
// the floor recorded in the command, see Create.MinPeriodicity). A min of 0 checks no
// floor.
func (p Periodicity) ValidateNew(min float64) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if min <= 0 {
		return nil
	}
	if !p.IsSchedule() {
		if p.Seconds < min {
			return invalid(fmt.Sprintf("periodicity must be at least %s, not %s seconds", secondsText(min), formatFloat(p.Seconds)))
		}
		return nil
	}
	s, err := parsedSchedule(p.Schedule)
	if err != nil {
		return invalid("malformed periodicity: " + err.Error())
	}
	if shortest, directive := s.Shortest(); shortest < min {
		return invalid(fmt.Sprintf("periodicity must be at least %s: directive %q allows %s seconds",
			secondsText(min), directive, formatFloat(shortest)))
	}
	return nil
}

// secondsText writes a number of seconds for a message: "1 second", "2.5 seconds".
func secondsText(seconds float64) string {
	text := strconv.FormatFloat(seconds, 'f', -1, 64)
	if seconds == 1 {
		return text + " second"
	}
	return text + " seconds"
}

// maxPeriodicitySeconds keeps deadlines inside time.Time's range with room to spare.
const maxPeriodicitySeconds = 100 * 365 * 24 * 3600

// Deadline is the original's calculate_periodicity_delta added to whence: the instant by
// which a canary triggered at whence must be triggered again.
func (p Periodicity) Deadline(whence time.Time) (time.Time, error) {
	if !p.IsSchedule() {
		return whence.Add(secondsDuration(p.Seconds)), nil
	}
	s, err := parsedSchedule(p.Schedule)
	if err != nil {
		return time.Time{}, invalid("malformed periodicity: " + err.Error())
	}
	d, err := s.Deadline(whence)
	if err != nil {
		return time.Time{}, invalid("malformed periodicity: " + err.Error())
	}
	return d.UTC().Truncate(time.Microsecond), nil
}

// DeadlineIn is Deadline with a schedule's directives read as wall-clock time in loc.
func (p Periodicity) DeadlineIn(whence time.Time, loc *time.Location) (time.Time, error) {
	if !p.IsSchedule() || loc == nil || loc == time.UTC {
		return p.Deadline(whence)
	}
	s, err := parsedSchedule(p.Schedule)
	if err != nil {
		return time.Time{}, invalid("malformed periodicity: " + err.Error())
	}
	d, err := s.DeadlineIn(whence, loc)
	if err != nil {
		return time.Time{}, invalid("malformed periodicity: " + err.Error())
	}
	return d.UTC().Truncate(time.Microsecond), nil
}

// Window is one stretch of a schedule's play-out: from Start to End, either Active with
// the periodicity in Seconds, or inactive (the canary is not expected then).
type Window = schedule.Window

// PlayOut shows how a schedule plays out from now (nil for a number of seconds).
func (p Periodicity) PlayOut(now time.Time) ([]Window, error) {
	if !p.IsSchedule() {
		return nil, nil
	}
	s, err := parsedSchedule(p.Schedule)
	if err != nil {
		return nil, err
	}
	return s.PlayOut(now)
}

// PlayOutIn is PlayOut with the directives read as wall-clock time in loc.
func (p Periodicity) PlayOutIn(now time.Time, loc *time.Location) ([]Window, error) {
	if !p.IsSchedule() || loc == nil || loc == time.UTC {
		return p.PlayOut(now)
	}
	s, err := parsedSchedule(p.Schedule)
	if err != nil {
		return nil, err
	}
	return s.PlayOutIn(now, loc)
}

// secondsDuration converts float seconds to a Duration rounded to the microsecond, the
// precision of every stored timestamp.
func secondsDuration(seconds float64) time.Duration {
	return time.Duration(math.Round(seconds*1e6)) * time.Microsecond
}

// String renders the periodicity as the original's JSON does: a float such as 3600.0,
// or the schedule text.
func (p Periodicity) String() string {
	if p.IsSchedule() {
		return p.Schedule
	}
	return formatFloat(p.Seconds)
}

// formatFloat mimics Python's repr of a float: integral values keep a ".0".
func formatFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e16 {
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// MarshalJSON writes a number as a float (3600.0), a schedule as a string.
func (p Periodicity) MarshalJSON() ([]byte, error) {
	if p.IsSchedule() {
		return json.Marshal(p.Schedule)
	}
	return []byte(formatFloat(p.Seconds)), nil
}

// UnmarshalJSON reads a JSON number or string.
func (p *Periodicity) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case float64:
		*p = Periodicity{Seconds: v}
	case string:
		if numericPeriodicity.MatchString(strings.TrimSpace(v)) {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return fmt.Errorf("periodicity %q: %w", v, err)
			}
			*p = Periodicity{Seconds: f}
			return nil
		}
		*p = Periodicity{Schedule: v}
	default:
		return fmt.Errorf("periodicity must be a number or a string, not %s", b)
	}
	return nil
}

// scheduleCache keeps parsed schedules: parsing is pure, so caching cannot make two
// replicas disagree, and a trigger of a scheduled canary then costs no parse.
var scheduleCache sync.Map // string -> *schedule.Schedule

func parsedSchedule(text string) (*schedule.Schedule, error) {
	if s, ok := scheduleCache.Load(text); ok {
		return s.(*schedule.Schedule), nil
	}
	s, err := schedule.Parse(text)
	if err != nil {
		return nil, err
	}
	scheduleCache.Store(text, s)
	return s, nil
}
