package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The original's test schedule (tests/test_crontab_schedule.py), semicolon-separated.
const originalTestSchedule = "# This is a comment.; * * * * Sun 300; ;" +
	"# Leave the blank line above and this comment in place.;" +
	"* 22-23,0-12 * * Mon-Fri 300; 0-29 13 * * Mon-Fri 300;" +
	"30-59 13 * * Mon-Fri 90; * 14-21 * * Mon-Fri 90"

func w(start, end time.Time, seconds float64) Window {
	return Window{Start: start, End: end, Seconds: seconds, Active: seconds != 0}
}

// The original's FIXED_EXPECTED: a week from Thursday 2015-01-01.
var originalWeek = []Window{
	w(at(2015, 1, 1, 0, 0, 0), at(2015, 1, 1, 13, 29, 0), 300),
	w(at(2015, 1, 1, 13, 30, 0), at(2015, 1, 1, 21, 59, 0), 90),
	w(at(2015, 1, 1, 22, 0, 0), at(2015, 1, 2, 13, 29, 0), 300),
	w(at(2015, 1, 2, 13, 30, 0), at(2015, 1, 2, 21, 59, 0), 90),
	w(at(2015, 1, 2, 22, 0, 0), at(2015, 1, 2, 23, 59, 0), 300),
	w(at(2015, 1, 3, 0, 0, 0), at(2015, 1, 3, 23, 59, 0), 0),
	w(at(2015, 1, 4, 0, 0, 0), at(2015, 1, 5, 13, 29, 0), 300),
	w(at(2015, 1, 5, 13, 30, 0), at(2015, 1, 5, 21, 59, 0), 90),
	w(at(2015, 1, 5, 22, 0, 0), at(2015, 1, 6, 13, 29, 0), 300),
	w(at(2015, 1, 6, 13, 30, 0), at(2015, 1, 6, 21, 59, 0), 90),
	w(at(2015, 1, 6, 22, 0, 0), at(2015, 1, 7, 13, 29, 0), 300),
	w(at(2015, 1, 7, 13, 30, 0), at(2015, 1, 7, 21, 59, 0), 90),
	w(at(2015, 1, 7, 22, 0, 0), at(2015, 1, 8, 0, 0, 0), 300), // cut at the week's end
}

func TestPlayOut(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
		start    time.Time
		want     []Window
	}{
		{"the original's week", originalTestSchedule, at(2015, 1, 1, 0, 0, 0), originalWeek},
		{"seconds of start are dropped, the week ends at start's minute",
			originalTestSchedule, at(2015, 1, 1, 0, 0, 42), originalWeek},
		{"always active: one window for the week", "* * * * * 60",
			at(2015, 1, 1, 10, 30, 0),
			[]Window{w(at(2015, 1, 1, 10, 30, 0), at(2015, 1, 8, 10, 30, 0), 60)}},
		{"one key all the time: one window", "* 0-11 * * * 60; * 12-23 * * * 60",
			at(2015, 1, 1, 10, 30, 0),
			[]Window{w(at(2015, 1, 1, 10, 30, 0), at(2015, 1, 8, 10, 30, 0), 60)}},
		// Until every directive has appeared is longer than a week here. The
		// original counts a gap (other than the first window) as a directive, so
		// the list stops after the second gap, before the 1st of February.
		{"longer than a week", "0 0 1 * * 60; 0 12 15 * * 120",
			at(2015, 1, 2, 0, 0, 0),
			[]Window{
				w(at(2015, 1, 2, 0, 0, 0), at(2015, 1, 15, 11, 59, 0), 0),
				w(at(2015, 1, 15, 12, 0, 0), at(2015, 1, 15, 12, 0, 0), 120),
				w(at(2015, 1, 15, 12, 1, 0), at(2015, 1, 31, 23, 59, 0), 0),
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.schedule)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.schedule, err)
			}
			got, err := s.PlayOut(tt.start)
			if err != nil {
				t.Fatalf("PlayOut(%v): %v", tt.start, err)
			}
			if diff := diffWindows(got, tt.want); diff != "" {
				t.Errorf("PlayOut(%v):\n%s", tt.start, diff)
			}
		})
	}
}

// The original's DYNAMIC_EXPECTED: until every directive has appeared, counting the
// Saturday gap as one.
func TestUntilAllAppear(t *testing.T) {
	s, err := Parse(originalTestSchedule)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.untilAllAppear(minuteOf(at(2015, 1, 1, 0, 0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if diff := diffWindows(got, originalWeek[:6]); diff != "" {
		t.Errorf("untilAllAppear:\n%s", diff)
	}
}

// The original's GAP_EXPECTED: a list cut before its natural end.
func TestUntilCut(t *testing.T) {
	s, err := Parse("* 12-23 * * * 60")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.until(minuteOf(at(2015, 1, 1, 0, 0, 0)), minuteOf(at(2015, 1, 1, 12, 1, 0)))
	if err != nil {
		t.Fatal(err)
	}
	want := []Window{
		w(at(2015, 1, 1, 0, 0, 0), at(2015, 1, 1, 11, 59, 0), 0),
		w(at(2015, 1, 1, 12, 0, 0), at(2015, 1, 1, 12, 1, 0), 60),
	}
	if diff := diffWindows(got, want); diff != "" {
		t.Errorf("until:\n%s", diff)
	}
}

func TestPlayOutLengths(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
		start    time.Time
		want     int
	}{
		{"README example over a week", readmeSchedule, at(2015, 1, 7, 0, 0, 0), 10},
		{"Saturday gap over a week", saturdayGapSchedule, at(2015, 1, 7, 0, 0, 0), 4},
		{"service: three windows a day", serviceSchedule, at(2015, 1, 7, 0, 0, 0), 21},
		{"monthly: until all appear", "0 0 1 * * 60; 0 0 15 * * 120", at(2015, 1, 2, 0, 0, 0), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.schedule)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.schedule, err)
			}
			got, err := s.PlayOut(tt.start)
			if err != nil {
				t.Fatalf("PlayOut: %v", err)
			}
			if len(got) != tt.want {
				t.Errorf("PlayOut gave %d windows, want %d:\n%s", len(got), tt.want, formatWindows(got))
			}
			for i, win := range got {
				if win.Active != (win.Seconds > 0) {
					t.Errorf("window %d: Active %v with Seconds %v", i, win.Active, win.Seconds)
				}
				if i > 0 && !win.Start.Equal(got[i-1].End.Add(time.Minute)) {
					t.Errorf("window %d starts at %v, not a minute after %v", i, win.Start, got[i-1].End)
				}
				if i > 0 && win.Active == got[i-1].Active && win.Seconds == got[i-1].Seconds {
					t.Errorf("windows %d and %d have the same state", i-1, i)
				}
			}
		})
	}
}

func TestPlayOutOverlap(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
		start    time.Time
	}{
		{"the week reaches Saturday", "* * * * sat,sun 60 ; * 0-11 * * * 90", at(2015, 1, 7, 0, 0, 0)},
		{"until all appear reaches February 29th", "0 0 29 2 * 60; * * * * * 30", at(2015, 1, 1, 0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.schedule)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.schedule, err)
			}
			if _, err := s.PlayOut(tt.start); !errors.Is(err, ErrOverlap) {
				t.Errorf("PlayOut error = %v, want ErrOverlap", err)
			}
		})
	}
}

func diffWindows(got, want []Window) string {
	if len(got) == len(want) {
		same := true
		for i := range got {
			if !got[i].Start.Equal(want[i].Start) || !got[i].End.Equal(want[i].End) ||
				got[i].Seconds != want[i].Seconds || got[i].Active != want[i].Active {
				same = false
			}
		}
		if same {
			return ""
		}
	}
	return "got:\n" + formatWindows(got) + "want:\n" + formatWindows(want)
}

func formatWindows(ws []Window) string {
	var b strings.Builder
	for _, win := range ws {
		b.WriteString(win.Start.Format(time.DateTime) + " .. " + win.End.Format(time.DateTime))
		if win.Active {
			b.WriteString(" " + time.Duration(win.Seconds*float64(time.Second)).String())
		} else {
			b.WriteString(" inactive")
		}
		b.WriteString("\n")
	}
	return b.String()
}
