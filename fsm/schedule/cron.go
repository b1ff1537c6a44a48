package schedule

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// Standard cron expressions, as Vixie cron and cronie read a crontab line's five
// time fields. This is a separate parser from field.go's, whose pieces mean what
// the Python library made of them (both day fields must match, "n/s" is allowed,
// "L", "zN", "lN", "?" exist), which is not what cron does.
//
//   - five fields separated by spaces or tabs: minute (0-59), hour (0-23), day of
//     month (1-31), month (1-12 or jan-dec), day of week (0-7 or sun-sat; 0 and 7
//     are Sunday); names are three letters, case-insensitive;
//   - a field is a comma-separated list of "*", "n", "a-b", "*/s" or "a-b/s";
//     "n/s" (which some cron dialects read as n-max/s) is rejected, as Vixie cron
//     rejects it, and ranges do not wrap ("fri-mon", "sat-sun" are errors; write
//     "sat,sun" or "6-7");
//   - a step is 1 up to the field's largest value;
//   - when neither day field starts with '*' a day matches if EITHER matches
//     ("0 0 1,15 * fri" is the 1st, the 15th and every Friday); when one does
//     (even "*/2") both must match;
//   - "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight" and
//     "@hourly" stand for their five fields; "@reboot" has no schedule and is
//     rejected, and so are seconds fields, "?", "L", "W" and "#".
//
// An expression that matches no day at all ("0 0 30 2 *") is rejected.

// ErrBadCron is wrapped by every error about a cron expression that cannot be used.
var ErrBadCron = errors.New("malformed cron expression")

// maxCronLength bounds an expression; real ones are a few dozen bytes.
const maxCronLength = 256

// Cron is a parsed standard cron expression. It is immutable after ParseCron, so
// it may be shared between goroutines.
type Cron struct {
	text     string
	minutes  uint64 // bit m: minute m
	hours    uint32 // bit h: hour h
	days     uint32 // bit d: day of month d (1-31)
	months   uint16 // bit m: month m (1-12)
	weekdays uint8  // bit w: weekday w (0 = Sunday)
	// either is Vixie cron's rule: neither day field starts with '*', so a day
	// matches if its day of month or its weekday matches.
	either bool
	// fixed is cronie's "fixed-time job": neither the minute nor the hour field
	// starts with '*'. Around clock changes cronie runs fixed-time jobs and the
	// others ("wildcard jobs") differently; see Next.
	fixed bool
	// weekdaysByFirst[w] has bit d when day d of a month that starts on weekday w
	// has a matching weekday.
	weekdaysByFirst [7]uint32
}

// cronMacros are the "@" names, as cronie expands them.
var cronMacros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// cronFieldSpec is a cron field's name and value range.
type cronFieldSpec struct {
	name   string
	lo, hi int
	names  map[string]int
}

var cronFieldSpecs = [5]cronFieldSpec{
	{name: "minute", lo: 0, hi: 59},
	{name: "hour", lo: 0, hi: 23},
	{name: "day-of-month", lo: 1, hi: 31},
	{name: "month", lo: 1, hi: 12, names: fieldSpecs[fieldMonth].names},
	{name: "day-of-week", lo: 0, hi: 7, names: fieldSpecs[fieldDayOfWeek].names},
}

// ParseCron parses a standard cron expression: five fields or an "@" name (see
// the rules above). Errors wrap ErrBadCron.
func ParseCron(text string) (*Cron, error) {
	if len(text) > maxCronLength {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrBadCron, maxCronLength)
	}
	trimmed := strings.TrimSpace(text)
	c, err := parseCron(trimmed)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %s", ErrBadCron, trimmed, err)
	}
	return c, nil
}

// ValidateCron reports whether ParseCron accepts text.
func ValidateCron(text string) error {
	_, err := ParseCron(text)
	return err
}

// String returns the expression as given to ParseCron, without surrounding blanks.
func (c *Cron) String() string { return c.text }

func parseCron(text string) (*Cron, error) {
	expr := text
	if strings.HasPrefix(text, "@") {
		lower := strings.ToLower(text)
		if lower == "@reboot" {
			return nil, errors.New("@reboot runs at boot, not on a schedule")
		}
		var ok bool
		if expr, ok = cronMacros[lower]; !ok {
			return nil, errors.New("unknown @ name (want @yearly, @annually, @monthly, " +
				"@weekly, @daily, @midnight or @hourly)")
		}
	}
	fields := strings.FieldsFunc(expr, func(r rune) bool { return r == ' ' || r == '\t' })
	switch {
	case len(fields) == 6:
		return nil, errors.New("has 6 fields: seconds fields (and commands) are not " +
			"supported, want minute hour day-of-month month day-of-week")
	case len(fields) != 5:
		return nil, fmt.Errorf("has %d fields, want 5: minute hour day-of-month month day-of-week",
			len(fields))
	}
	var masks [5]uint64
	for i, f := range fields {
		m, err := parseCronField(&cronFieldSpecs[i], f)
		if err != nil {
			return nil, fmt.Errorf("%s field %q: %s", cronFieldSpecs[i].name, f, err)
		}
		masks[i] = m
	}
	c := &Cron{
		text:     text,
		minutes:  masks[0],
		hours:    uint32(masks[1]),
		days:     uint32(masks[2]),
		months:   uint16(masks[3]),
		weekdays: uint8(masks[4] | masks[4]>>7), // 7 is Sunday too
		either:   fields[2][0] != '*' && fields[4][0] != '*',
		fixed:    fields[0][0] != '*' && fields[1][0] != '*',
	}
	c.weekdays &= 0x7f
	for first := 0; first < 7; first++ {
		for day := 1; day <= 31; day++ {
			if c.weekdays&(1<<uint((first+day-1)%7)) != 0 {
				c.weekdaysByFirst[first] |= 1 << uint(day)
			}
		}
	}
	if c.neverMatches() {
		return nil, errors.New("matches no day of any month (such as February 30th)")
	}
	return c, nil
}

// parseCronField returns the values a field matches, bit v for value v.
func parseCronField(spec *cronFieldSpec, text string) (uint64, error) {
	var set uint64
	for _, piece := range strings.Split(text, ",") {
		if piece == "" {
			return 0, errors.New("empty list element")
		}
		rangeText, stepText, hasStep := strings.Cut(piece, "/")
		lo, hi := spec.lo, spec.hi
		if rangeText != "*" {
			a, b, isRange := strings.Cut(rangeText, "-")
			var err error
			if lo, err = spec.value(a); err != nil {
				return 0, err
			}
			hi = lo
			if isRange {
				if hi, err = spec.value(b); err != nil {
					return 0, err
				}
				if lo > hi {
					return 0, fmt.Errorf("range %q goes backwards", rangeText)
				}
			} else if hasStep {
				return 0, fmt.Errorf("%q: a step needs a range or '*' (write %s-%d/%s)",
					piece, a, spec.hi, stepText)
			}
		}
		step := 1
		if hasStep {
			s, err := strconv.Atoi(stepText)
			if !isDigits(stepText) || len(stepText) > 2 || err != nil || s < 1 || s > spec.hi {
				return 0, fmt.Errorf("step %q is not a number from 1 to %d", stepText, spec.hi)
			}
			step = s
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << uint(v)
		}
	}
	return set, nil
}

// value parses a number in the field's range, or a month or weekday name.
func (spec *cronFieldSpec) value(text string) (int, error) {
	if v, ok := spec.names[strings.ToLower(text)]; ok {
		return v, nil
	}
	if !isDigits(text) || len(text) > 2 {
		if text == "" {
			return 0, errors.New("missing number")
		}
		return 0, fmt.Errorf("%q is not a number or name", text)
	}
	v, _ := strconv.Atoi(text)
	if v < spec.lo || v > spec.hi {
		return 0, fmt.Errorf("%d is out of range %d-%d", v, spec.lo, spec.hi)
	}
	return v, nil
}

// dayMask returns the matching days (bit d for day d) of a month of the given
// length that starts on weekday first, if the month itself matches.
func (c *Cron) dayMask(length, first int) uint32 {
	byWeekday := c.weekdaysByFirst[first]
	days := c.days & byWeekday
	if c.either {
		days = c.days | byWeekday
	}
	return days & daysUpTo(length)
}

// neverMatches reports whether no day of any month matches: every kind of month
// (length and first weekday) occurs in the Gregorian calendar.
func (c *Cron) neverMatches() bool {
	for _, k := range monthKinds {
		if c.months&(1<<uint(k.month)) == 0 {
			continue
		}
		for first := 0; first < 7; first++ {
			if c.dayMask(k.length, first) != 0 {
				return false
			}
		}
	}
	return true
}

// firstMinuteFrom returns the first matching minute of a matching day at or after
// minute-of-day from.
func (c *Cron) firstMinuteFrom(from int) (int, bool) {
	h, m := from/60, from%60
	for hours := c.hours &^ (uint32(1)<<uint(h) - 1); hours != 0; hours &= hours - 1 {
		hour := bits.TrailingZeros32(hours)
		minutes := c.minutes
		if hour == h {
			minutes &^= uint64(1)<<uint(m) - 1
		}
		if minutes != 0 {
			return hour*60 + bits.TrailingZeros64(minutes), true
		}
	}
	return 0, false
}

// nextWall returns the first matching wall-clock minute m (minutes since
// 1970-01-01T00:00 on the clock) with from <= m < to. It jumps over months that do
// not match, and over days with a day mask, so a search over years costs a few
// operations per month.
func (c *Cron) nextWall(from, to int64) (int64, bool) {
	if from >= to {
		return 0, false
	}
	day := floorDiv(from, minutesPerDay)
	info := dayInfoOf(day)
	firstOfMonth := day - int64(info.dayOfMonth-1)
	year, month, first := info.year, info.month, info.first
	fromDay, fromMinute := info.dayOfMonth, int(from-day*minutesPerDay)
	for firstOfMonth*minutesPerDay < to {
		length := monthLength(year, month)
		if c.months&(1<<uint(month)) != 0 {
			days := c.dayMask(length, first) &^ daysUpTo(fromDay-1)
			for ; days != 0; days &= days - 1 {
				d := bits.TrailingZeros32(days)
				start := 0
				if d == fromDay {
					start = fromMinute
				}
				if minute, ok := c.firstMinuteFrom(start); ok {
					m := (firstOfMonth+int64(d-1))*minutesPerDay + int64(minute)
					return m, m < to
				}
			}
		}
		firstOfMonth += int64(length)
		first = (first + length) % 7
		fromDay, fromMinute = 1, 0
		if month++; month > 12 {
			month, year = 1, year+1
		}
	}
	return 0, false
}
