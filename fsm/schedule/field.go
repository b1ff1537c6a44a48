package schedule

import (
	"fmt"
	"strconv"
	"strings"
)

// The cron fields follow parse-crontab 1.0.x (the "crontab" package the original
// pins as >=0.23,<1.1), field by field:
//
//   - a field is a comma-separated list of pieces, case-insensitive;
//   - "*" (and "?" in the day fields) matches everything;
//   - "n", "a-b", "a-b/s", "*/s" and "n/s" (= n-max/s); the step must be at most the
//     field's maximum and the second value (first+step) must still be in range;
//   - months jan..dec and weekdays sun..sat may stand for numbers, in ranges too;
//   - day of week 0-7, 7 and 0 both Sunday; a range ending in 0/sun ends in 7
//     ("sat-sun", "fri-sun");
//   - day of month "L" is the last day of the month; "zN" is N days before it
//     (N in 0..7) and "zA-B" a range of those; as in the library a "zN" piece decides
//     the field on its own once it is reached (only an "L" or "zA-B" piece before it
//     can still match);
//   - day of week "lN" / "lA-B" (digits only) are weekdays N / A..B in the month's
//     last seven days;
//   - when both day fields are restricted a day must match BOTH (the library tests
//     each field separately; it does not use standard cron's "either").
//
// Values outside a field's range are errors (the library rejects them too).

type fieldIndex int

const (
	fieldMinute fieldIndex = iota
	fieldHour
	fieldDayOfMonth
	fieldMonth
	fieldDayOfWeek
)

// fieldSpec is the value range of a field: lo..hi for "*", lo..limit for values.
type fieldSpec struct {
	name      string
	lo, hi    int
	limit     int
	names     map[string]int
	wildcards string // pieces meaning "any"
}

var fieldSpecs = [5]fieldSpec{
	fieldMinute:     {name: "minute", lo: 0, hi: 59, limit: 59, wildcards: "*"},
	fieldHour:       {name: "hour", lo: 0, hi: 23, limit: 23, wildcards: "*"},
	fieldDayOfMonth: {name: "day-of-month", lo: 1, hi: 31, limit: 31, wildcards: "*?"},
	fieldMonth: {name: "month", lo: 1, hi: 12, limit: 12, wildcards: "*", names: map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}},
	fieldDayOfWeek: {name: "day-of-week", lo: 0, hi: 6, limit: 7, wildcards: "*?", names: map[string]int{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}},
}

// monthEndRule is a day-of-month piece relative to the end of the month.
type monthEndRule struct {
	kind monthEndKind
	a, b int
}

type monthEndKind int

const (
	lastDay      monthEndKind = iota // "L": the last day
	beforeLast                       // "zN": N days before the last day; decides the field
	beforeLastIn                     // "zA-B": A..B days before the last day
)

// field is what one cron field means.
type field struct {
	any     bool
	allowed uint64 // bit v set when value v matches
	// monthEnd lists the day-of-month "L"/"z" pieces in the order written.
	monthEnd []monthEndRule
	// lastWeek has bit w for "lN"-style weekday pieces: weekday w in the month's
	// last seven days.
	lastWeek uint8
}

// parseField parses one cron field.
func parseField(which fieldIndex, text string) (field, error) {
	spec := &fieldSpecs[which]
	var f field
	for _, piece := range strings.Split(strings.ToLower(text), ",") {
		if err := f.addPiece(which, spec, piece); err != nil {
			return field{}, fmt.Errorf("%s field %q: %s", spec.name, text, err)
		}
	}
	return f, nil
}

func (f *field) addPiece(which fieldIndex, spec *fieldSpec, piece string) error {
	switch {
	case piece == "*" || piece == "?":
		if !strings.Contains(spec.wildcards, piece) {
			return fmt.Errorf("%q is not allowed here", piece)
		}
		f.any = true
		return nil
	case piece == "l":
		if which != fieldDayOfMonth {
			return fmt.Errorf("a bare L is only allowed in the day-of-month field")
		}
		f.monthEnd = append(f.monthEnd, monthEndRule{kind: lastDay})
		return nil
	case strings.HasPrefix(piece, "z"):
		if which != fieldDayOfMonth {
			return fmt.Errorf("zN is only allowed in the day-of-month field")
		}
		rule, err := parseBeforeLast(piece[1:])
		if err != nil {
			return err
		}
		f.monthEnd = append(f.monthEnd, rule)
		return nil
	case strings.HasPrefix(piece, "l"):
		if which != fieldDayOfWeek {
			return fmt.Errorf("lN is only allowed in the day-of-week field")
		}
		days, err := parseLastWeekday(piece[1:])
		if err != nil {
			return err
		}
		f.lastWeek |= days
		return nil
	}
	values, err := parseValues(which, spec, piece)
	if err != nil {
		return err
	}
	f.allowed |= values
	return nil
}

// parseValues parses "n", "a-b", "*/s", "n/s" and "a-b/s".
func parseValues(which fieldIndex, spec *fieldSpec, piece string) (uint64, error) {
	step, hasStep := 1, false
	if strings.Contains(piece, "/") {
		parts := strings.Split(piece, "/")
		if len(parts) != 2 {
			return 0, fmt.Errorf("%q has more than one '/'", piece)
		}
		s, ok := pythonInt(parts[1])
		if !ok || s <= 0 {
			return 0, fmt.Errorf("step %q is not a positive integer", parts[1])
		}
		if s > spec.limit {
			return 0, fmt.Errorf("step %d is larger than %d", s, spec.limit)
		}
		piece, step, hasStep = parts[0], s, true
	}

	var start, end int
	switch {
	case strings.Contains(piece, "-"):
		parts := strings.Split(piece, "-")
		if len(parts) != 2 {
			return 0, fmt.Errorf("%q has more than one '-'", piece)
		}
		var err error
		if start, err = spec.value(parts[0]); err != nil {
			return 0, err
		}
		if end, err = spec.value(parts[1]); err != nil {
			return 0, err
		}
		if which == fieldDayOfWeek && end == 0 {
			end = 7 // "sat-sun"
		}
	case piece == "*":
		start, end = spec.lo, spec.hi
	default:
		v, err := spec.value(piece)
		if err != nil {
			return 0, err
		}
		if !hasStep {
			return sundayIsZero(which, 1<<uint(v)), nil
		}
		start, end = v, spec.hi
	}
	if start > end {
		return 0, fmt.Errorf("range %d-%d is backwards", start, end)
	}
	if hasStep && start+step > spec.limit {
		return 0, fmt.Errorf("step %d leaves the range after %d", step, start)
	}
	var bits uint64
	for v := start; v <= end; v += step {
		bits |= 1 << uint(v)
	}
	return sundayIsZero(which, bits), nil
}

// value parses a number or a name; numbers must be within lo..limit.
func (spec *fieldSpec) value(text string) (int, error) {
	if v, ok := spec.names[text]; ok {
		return v, nil
	}
	if !isDigits(text) {
		return 0, fmt.Errorf("%q is not a number", text)
	}
	v, err := strconv.Atoi(text)
	if err != nil || v < spec.lo || v > spec.limit {
		return 0, fmt.Errorf("%s is out of range %d-%d", text, spec.lo, spec.limit)
	}
	return v, nil
}

// sundayIsZero folds weekday 7 onto 0.
func sundayIsZero(which fieldIndex, bits uint64) uint64 {
	if which == fieldDayOfWeek && bits&(1<<7) != 0 {
		bits = bits&^(1<<7) | 1
	}
	return bits
}

// parseBeforeLast parses what follows the z of a "zN" or "zA-B" piece.
func parseBeforeLast(text string) (monthEndRule, error) {
	if isDigits(text) {
		n, err := strconv.Atoi(text)
		if err == nil && n <= 7 {
			return monthEndRule{kind: beforeLast, a: n}, nil
		}
	} else if a, b, ok := strings.Cut(text, "-"); ok && isDigits(a) && isDigits(b) {
		x, errA := strconv.Atoi(a)
		y, errB := strconv.Atoi(b)
		// The library compares the two numbers as strings here; so do we.
		if errA == nil && errB == nil && x <= 7 && y >= 1 && y <= 7 && a <= b {
			return monthEndRule{kind: beforeLastIn, a: x, b: y}, nil
		}
	}
	return monthEndRule{}, fmt.Errorf("z%s: want zN or zA-B with numbers 0-7", text)
}

// parseLastWeekday parses what follows the l of an "lN" or "lA-B" weekday piece.
func parseLastWeekday(text string) (uint8, error) {
	if isDigits(text) {
		n, err := strconv.Atoi(text)
		if err == nil && n <= 7 {
			switch {
			case text == "7":
				return 1, nil // Sunday
			case n == 7:
				return 0, nil // the library compares int("07") == 7 with 0..6: never
			default:
				return 1 << uint(n), nil
			}
		}
	} else if a, b, ok := strings.Cut(text, "-"); ok && isDigits(a) && isDigits(b) {
		x, errA := strconv.Atoi(a)
		y, errB := strconv.Atoi(b)
		if errA == nil && errB == nil && x <= 7 && y <= 7 {
			var days uint8
			for w := x; w <= y; w++ {
				days |= 1 << uint(w%7)
			}
			return days, nil
		}
	}
	return 0, fmt.Errorf("l%s: want lN or lA-B with numbers 0-7", text)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// pythonInt parses what Python's int(s, 10) accepts in ASCII: an optional sign and
// digits, with single underscores allowed between digits.
func pythonInt(s string) (int, bool) {
	digits := strings.TrimLeft(s, "+-")
	if len(s)-len(digits) > 1 || !isPythonDigitPart(digits) {
		return 0, false
	}
	v, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
	return v, err == nil
}

// isPythonDigitPart reports whether s is digits with single underscores between them.
func isPythonDigitPart(s string) bool {
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '_' && s[i-1] != '_':
		default:
			return false
		}
	}
	return true
}
