package schedule

import (
	"errors"
	"testing"
	"time"
)

func at(year int, month time.Month, day, hour, minute, second int) time.Time {
	return time.Date(year, month, day, hour, minute, second, 0, time.UTC)
}

// The README's example: 2015-01-05 is a Monday, 2015-01-09 a Friday.
const readmeSchedule = "# 5-minute delays are ok on weekends ; * * * * sat,sun 300 ; " +
	"# 5-minute days are ok overnight ; * 0-12 * * mon-fri 300 ; " +
	"# otherwise, we require a shorter periodicity ; * 13-23 * * mon-fri 90"

// The original's comment: a service down from midnight, up at 02:00, that may take
// an hour to start and then triggers every ten minutes.
const serviceSchedule = "0 2 * * * 3600; 1-59 2 * * * 600; * 3-23 * * * 600"

// The README's gap example: paused all day Saturday.
const saturdayGapSchedule = "* * * * sun 300 ; * * * * mon-fri 60"

func TestDeadline(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
		whence   time.Time
		want     time.Time
	}{
		// The original's tests of the four cases.
		{"case 1: inside a window", "* * * * * 1200",
			at(2016, 6, 30, 12, 34, 56), at(2016, 6, 30, 12, 54, 56)},
		{"case 2: in a gap", "* 0 * * * 120",
			at(2016, 6, 30, 1, 0, 0), at(2016, 7, 1, 0, 2, 0)},
		{"case 3: running into a gap", "* 0 * * * 120",
			at(2016, 6, 30, 0, 59, 0), at(2016, 7, 1, 0, 2, 0)},
		{"case 4: running into another window", "* 0 * * * 120; * 1 * * * 600",
			at(2016, 6, 30, 0, 59, 0), at(2016, 6, 30, 1, 9, 0)},
		{"case 4: the next window's start is later", "* 0 * * * 120; * 1 * * * 30",
			at(2016, 6, 30, 0, 59, 0), at(2016, 6, 30, 1, 0, 0)},

		// A window "ends" at the start of its last minute.
		{"deadline at the start of the last minute is inside", "* 0 * * * 120",
			at(2016, 6, 30, 0, 57, 0), at(2016, 6, 30, 0, 59, 0)},
		{"a second later is past it", "* 0 * * * 120",
			at(2016, 6, 30, 0, 57, 1), at(2016, 7, 1, 0, 2, 0)},
		{"whence with seconds in a gap", "* 0 * * * 120",
			time.Date(2016, 6, 30, 23, 59, 59, 500_000_000, time.UTC), at(2016, 7, 1, 0, 2, 0)},
		{"whence keeps its fraction", "* * * * * 0.25",
			time.Date(2016, 6, 30, 1, 2, 3, 123_456_000, time.UTC),
			time.Date(2016, 6, 30, 1, 2, 3, 373_456_000, time.UTC)},

		{"README: weekday afternoon", readmeSchedule,
			at(2015, 1, 7, 15, 0, 0), at(2015, 1, 7, 15, 1, 30)},
		{"README: overnight runs into the afternoon", readmeSchedule,
			at(2015, 1, 7, 12, 59, 0), at(2015, 1, 7, 13, 0, 30)},
		{"README: Friday night runs into the weekend", readmeSchedule,
			at(2015, 1, 9, 23, 59, 30), at(2015, 1, 10, 0, 4, 30)},
		{"README: Saturday", readmeSchedule,
			at(2015, 1, 10, 12, 0, 0), at(2015, 1, 10, 12, 5, 0)},
		{"README: Monday morning", readmeSchedule,
			at(2015, 1, 12, 10, 0, 0), at(2015, 1, 12, 10, 5, 0)},

		{"service: before it starts, the first deadline is 03:00", serviceSchedule,
			at(2016, 6, 30, 0, 30, 0), at(2016, 6, 30, 3, 0, 0)},
		{"service: just before 02:00", serviceSchedule,
			at(2016, 6, 30, 1, 59, 59), at(2016, 6, 30, 3, 0, 0)},
		{"service: triggered at 02:00:30, ten minutes from then", serviceSchedule,
			at(2016, 6, 30, 2, 0, 30), at(2016, 6, 30, 2, 10, 30)},
		{"service: triggered at 02:15", serviceSchedule,
			at(2016, 6, 30, 2, 15, 0), at(2016, 6, 30, 2, 25, 0)},
		{"service: late evening skips the night", serviceSchedule,
			at(2016, 6, 30, 23, 55, 0), at(2016, 7, 1, 3, 0, 0)},

		{"Saturday gap: Friday night waits for Sunday", saturdayGapSchedule,
			at(2015, 1, 9, 23, 59, 30), at(2015, 1, 11, 0, 5, 0)},
		{"Saturday gap: during Saturday", saturdayGapSchedule,
			at(2015, 1, 10, 12, 0, 0), at(2015, 1, 11, 0, 5, 0)},
		{"Saturday gap: Sunday night runs into Monday", saturdayGapSchedule,
			at(2015, 1, 11, 23, 58, 0), at(2015, 1, 12, 0, 0, 0)},

		{"far away: next February 29th", "0 0 29 2 * 60",
			at(2015, 3, 1, 0, 0, 0), at(2016, 2, 29, 0, 1, 0)},
		{"far away: 2100 is not a leap year", "0 0 29 2 * 60",
			at(2097, 3, 1, 0, 0, 0), at(2104, 2, 29, 0, 1, 0)},
		{"far away: from inside the one-minute window", "0 0 29 2 * 60",
			at(2016, 2, 29, 0, 0, 30), at(2020, 2, 29, 0, 1, 0)},
		{"Friday the 13th: both day fields must match", "0 12 13 * fri 60",
			at(2015, 1, 1, 0, 0, 0), at(2015, 2, 13, 12, 1, 0)},
		{"last day of the month", "0 0 L * * 60",
			at(2015, 2, 1, 0, 0, 0), at(2015, 2, 28, 0, 1, 0)},
		{"last Friday of the month", "0 0 * * l5 60",
			at(2015, 1, 1, 0, 0, 0), at(2015, 1, 30, 0, 1, 0)},
		{"weekday 7 is Sunday", "* * * * 7 60",
			at(2015, 1, 9, 0, 0, 0), at(2015, 1, 11, 0, 1, 0)},
		{"names are case-insensitive", "* * * FEB Mon-Tue 60",
			at(2015, 1, 9, 0, 0, 0), at(2015, 2, 2, 0, 1, 0)},
		{"steps", "*/15 */6 * * * 30",
			at(2015, 1, 1, 0, 1, 0), at(2015, 1, 1, 0, 15, 30)},
		{"one key all the time never ends", "* 0-11 * * * 86400; * 12-23 * * * 86400",
			at(2015, 1, 1, 6, 0, 0), at(2015, 1, 2, 6, 0, 0)},
		{"one key almost all the time: Sunday afternoons off", "* 0-11 * * * 60; * 12-23 * * 1-6 60",
			at(2015, 1, 11, 11, 59, 30), at(2015, 1, 12, 0, 1, 0)},
		{"a long periodicity in an endless window", "* * * * * 8640000",
			at(2015, 1, 1, 0, 0, 0), at(2015, 4, 11, 0, 0, 0)},
		{"an overlap that the deadline does not reach", "* * * * sat,sun 60 ; * 0-11 * * * 90",
			at(2015, 1, 7, 10, 0, 0), at(2015, 1, 7, 10, 1, 30)},
		{"an overlap further on than the windows looked at", "* * * * sat,sun 60 ; * 0-11 * * * 90",
			at(2015, 1, 7, 11, 59, 30), at(2015, 1, 8, 0, 1, 30)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.schedule)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.schedule, err)
			}
			got, err := s.Deadline(tt.whence)
			if err != nil {
				t.Fatalf("Deadline(%v): %v", tt.whence, err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("Deadline(%v) = %v, want %v", tt.whence, got, tt.want)
			}
			if got.Location() != time.UTC {
				t.Errorf("Deadline(%v) is in %v, want UTC", tt.whence, got.Location())
			}
		})
	}
}

func TestDeadlineOverlap(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
		whence   time.Time
	}{
		{"whence in an overlap", "* * * * * 30; * * * * * 60", at(2016, 6, 30, 1, 0, 0)},
		{"the next window is an overlap", "* * * * sat,sun 60 ; * 0-11 * * * 90",
			at(2015, 1, 9, 23, 0, 0)},
		// Saturday afternoon is fine, but Sunday starts with an overlap, and the
		// original looks at that minute to find where Saturday's window ends.
		{"the minute after the window is an overlap", "* * * * sat,sun 60 ; * 0-11 * * * 90",
			at(2015, 1, 10, 12, 30, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.schedule)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.schedule, err)
			}
			_, err = s.Deadline(tt.whence)
			if !errors.Is(err, ErrOverlap) || !errors.Is(err, ErrInvalid) {
				t.Errorf("Deadline(%v) error = %v, want ErrOverlap and ErrInvalid", tt.whence, err)
			}
		})
	}
}

func TestDeadlineInOtherZone(t *testing.T) {
	s, err := Parse("* 0 * * * 120")
	if err != nil {
		t.Fatal(err)
	}
	// 2016-06-30 01:00 UTC written as 03:00 in UTC+2: a gap, not hour 0.
	whence := time.Date(2016, 6, 30, 3, 0, 0, 0, time.FixedZone("UTC+2", 2*3600))
	got, err := s.Deadline(whence)
	if err != nil {
		t.Fatal(err)
	}
	if want := at(2016, 7, 1, 0, 2, 0); !got.Equal(want) {
		t.Errorf("Deadline = %v, want %v", got, want)
	}
}
