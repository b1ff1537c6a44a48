package schedule

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// maxSeconds keeps a periodicity inside time.Duration (about 285 years).
const maxSeconds = 9e9

// Parse parses a schedule: directives separated by ';', each
// "minute hour day-of-month month day-of-week SECONDS". Directives whose first
// non-blank character is '#' are comments; empty directives are skipped.
//
// Errors wrap ErrInvalid: a newline in the text, no directives, a directive with
// fewer than six fields, a bad cron field, SECONDS not a positive finite number (or
// over ~285 years), a directive that can never be active (e.g. "* * 30 2 * 60"),
// more than 64 directives. Overlapping directives are not an error here: Deadline
// notices an overlap when it runs into one, as the original does, and Validate checks
// the whole calendar.
func Parse(text string) (*Schedule, error) {
	if strings.Contains(text, "\n") {
		return nil, fmt.Errorf("%w: no newlines allowed", ErrInvalid)
	}
	s := &Schedule{}
	keyIndex := map[string]int{}
	for _, part := range strings.Split(text, ";") {
		line := strings.TrimFunc(part, isPythonSpace)
		if line == "" || line[0] == '#' {
			continue
		}
		if len(s.dirs) == maxDirectives {
			return nil, fmt.Errorf("%w: more than %d directives", ErrInvalid, maxDirectives)
		}
		d, keyText, err := parseDirective(line)
		if err != nil {
			return nil, fmt.Errorf("%w: directive %q: %s", ErrInvalid, line, err)
		}
		k, seen := keyIndex[keyText]
		if !seen {
			seconds, err := parseSeconds(keyText)
			if err != nil {
				return nil, fmt.Errorf("%w: directive %q: %s", ErrInvalid, line, err)
			}
			k = len(s.keys)
			keyIndex[keyText] = k
			s.keys = append(s.keys, key{text: keyText, seconds: seconds, period: secondsToDuration(seconds)})
		}
		d.key = k
		s.dirs = append(s.dirs, d)
	}
	if len(s.dirs) == 0 {
		return nil, fmt.Errorf("%w: no directives", ErrInvalid)
	}
	s.all = 1<<uint(len(s.dirs)) - 1
	if len(s.dirs) == 64 {
		s.all = ^uint64(0)
	}
	for i := range s.dirs {
		if s.dirs[i].neverActive() {
			return nil, fmt.Errorf("%w: directive %q is never active", ErrInvalid, s.dirs[i].text)
		}
	}
	s.overlapping = s.hasOverlappingPair()
	s.constant = !s.overlapping && s.coversEveryMinuteWithOneKey()
	return s, nil
}

// parseDirective parses the five cron fields of a directive and returns the
// seconds field's text.
func parseDirective(line string) (directive, string, error) {
	fields := splitFields(line, 6)
	if len(fields) < 6 {
		return directive{}, "", fmt.Errorf("does not have six fields")
	}
	var parsed [5]field
	for i := range parsed {
		f, err := parseField(fieldIndex(i), fields[i])
		if err != nil {
			return directive{}, "", err
		}
		parsed[i] = f
	}
	return newDirective(line, parsed), fields[5], nil
}

// splitFields splits like Python's str.split(None, n-1): at most n fields, the last
// one being the rest of the line.
func splitFields(line string, n int) []string {
	var out []string
	rest := strings.TrimLeftFunc(line, isPythonSpace)
	for rest != "" {
		if len(out) == n-1 {
			out = append(out, strings.TrimRightFunc(rest, isPythonSpace))
			break
		}
		end := strings.IndexFunc(rest, isPythonSpace)
		if end < 0 {
			out = append(out, rest)
			break
		}
		out = append(out, rest[:end])
		rest = strings.TrimLeftFunc(rest[end:], isPythonSpace)
	}
	return out
}

// isPythonSpace is Python's str.isspace for one character.
func isPythonSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// parseSeconds parses the seconds field the way Python's float() does, and requires
// a positive, finite value that fits a time.Duration.
func parseSeconds(text string) (float64, error) {
	if !isPythonDecimal(text) {
		return 0, fmt.Errorf("seconds %q is not a number", text)
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(text, "_", ""), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, fmt.Errorf("seconds %q is not a finite number", text)
	}
	if v <= 0 {
		return 0, fmt.Errorf("seconds %q is not positive", text)
	}
	if v > maxSeconds {
		return 0, fmt.Errorf("seconds %q is too large", text)
	}
	return v, nil
}

// isPythonDecimal reports whether s is a finite decimal literal that Python's
// float() accepts: [sign] (digits [. [digits]] | . digits) [e [sign] digits], with
// single underscores allowed between digits. ("inf" and "nan" are left out: the
// original accepts them here and then crashes.)
func isPythonDecimal(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	mantissa, exponent, hasExponent := strings.Cut(strings.ToLower(s), "e")
	if hasExponent {
		if exponent != "" && (exponent[0] == '+' || exponent[0] == '-') {
			exponent = exponent[1:]
		}
		if !isPythonDigitPart(exponent) {
			return false
		}
	}
	whole, fraction, hasPoint := strings.Cut(mantissa, ".")
	switch {
	case !hasPoint:
		return isPythonDigitPart(whole)
	case whole == "":
		return isPythonDigitPart(fraction)
	case fraction == "":
		return isPythonDigitPart(whole)
	default:
		return isPythonDigitPart(whole) && isPythonDigitPart(fraction)
	}
}

// secondsToDuration converts like Python's timedelta(seconds=x): to the nearest
// microsecond, ties to even.
func secondsToDuration(seconds float64) time.Duration {
	return time.Duration(math.RoundToEven(seconds*1e6)) * time.Microsecond
}
