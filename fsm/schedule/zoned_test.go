package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// zonedSchedules and zonedWhences are the cross-checks' inputs: the reference
// schedules and the instants the deadline tests use, plus the 2026 clock changes.
var (
	zonedSchedules = []string{
		readmeSchedule, serviceSchedule, saturdayGapSchedule, originalTestSchedule,
		"* 0-8 * * * 3600; * 9-23 * * * 600", "* 0-1 * * * 3600; * 2-23 * * * 600",
		"* 0 * * * 120", "0 0 29 2 * 60", "0 12 13 * fri 60", "* * * * * 1200",
		"0 0 L * * 60", "* 0-11 * * * 86400; * 12-23 * * * 86400",
	}
	zonedWhences = []time.Time{
		at(2015, 1, 7, 15, 0, 0), at(2015, 1, 9, 23, 59, 30), at(2016, 6, 30, 0, 59, 0),
		at(2016, 6, 30, 1, 59, 59), at(2016, 2, 29, 0, 0, 30), at(2097, 3, 1, 0, 0, 0),
		time.Date(2016, 6, 30, 23, 59, 59, 500_000_000, time.UTC),
		at(2026, 3, 29, 0, 30, 0), at(2026, 10, 25, 1, 30, 0), at(2026, 11, 1, 6, 30, 0),
	}
)

// With UTC, or any location that is UTC all the time, the zoned code must give
// what Deadline and PlayOut give. Etc/UTC is not time.UTC, so it takes the zoned
// path: this checks that path against the reference tests' arithmetic.
func TestZonedUTCIsDeadline(t *testing.T) {
	locs := []*time.Location{nil, time.UTC, mustZone(t, "Etc/UTC"), time.FixedZone("Z", 0)}
	for _, text := range zonedSchedules {
		s, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q): %v", text, err)
		}
		for _, whence := range zonedWhences {
			want, wantErr := s.Deadline(whence)
			wantWindows, wantPlayErr := s.PlayOut(whence)
			for _, loc := range locs {
				got, err := s.DeadlineIn(whence, loc)
				if got != want || (err == nil) != (wantErr == nil) {
					t.Errorf("%q at %v in %v: DeadlineIn = %v, %v; Deadline = %v, %v",
						text, whence, loc, got, err, want, wantErr)
				}
				windows, err := s.PlayOutIn(whence, loc)
				if (err == nil) != (wantPlayErr == nil) || !sameWindows(windows, wantWindows) {
					t.Errorf("%q at %v in %v: PlayOutIn differs from PlayOut: %v\n%s", text, whence, loc,
						err, diffWindows(windows, wantWindows))
				}
			}
		}
	}
}

// sameWindows compares with ==, so that times must be in UTC like PlayOut's.
func sameWindows(a, b []Window) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A zone without clock changes just shifts everything: Asia/Kolkata is UTC+05:30
// all year, so its 09:00 is 03:30 UTC.
func TestZonedFixedOffsetShifts(t *testing.T) {
	kolkata := mustZone(t, "Asia/Kolkata")
	const shift = 5*time.Hour + 30*time.Minute
	for _, text := range zonedSchedules {
		s, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q): %v", text, err)
		}
		for _, whence := range zonedWhences {
			want, wantErr := s.Deadline(whence.Add(shift))
			got, err := s.DeadlineIn(whence, kolkata)
			if (err == nil) != (wantErr == nil) || (err == nil && got != want.Add(-shift)) {
				t.Errorf("%q at %v: DeadlineIn = %v, %v; want %v, %v", text, whence, got, err,
					want.Add(-shift), wantErr)
			}
			wantWindows, _ := s.PlayOut(whence.Add(shift))
			for i := range wantWindows {
				wantWindows[i].Start = wantWindows[i].Start.Add(-shift)
				wantWindows[i].End = wantWindows[i].End.Add(-shift)
			}
			if windows, _ := s.PlayOutIn(whence, kolkata); !sameWindows(windows, wantWindows) {
				t.Errorf("%q at %v: PlayOutIn:\n%s", text, whence, diffWindows(windows, wantWindows))
			}
		}
	}
}

func TestDeadlineIn(t *testing.T) {
	berlin, newYork := mustZone(t, "Europe/Berlin"), mustZone(t, "America/New_York")
	const (
		nightAndDay = "* 0-8 * * * 3600; * 9-23 * * * 600"
		// The boundary at 02:00 is skipped in spring and repeated in autumn.
		twoOClock = "* 0-1 * * * 3600; * 2-23 * * * 600"
		// 02:xx has its own window, which spring's skipped hour swallows whole.
		skipped = "* 0-1 * * * 600; * 2 * * * 60; * 3-23 * * * 600"
	)
	tests := []struct {
		name     string
		schedule string
		loc      *time.Location
		whence   time.Time
		want     time.Time
	}{
		{"Tokyo: hour 0 is 15:00 UTC", "* 0 * * * 120", mustZone(t, "Asia/Tokyo"),
			at(2026, 12, 4, 14, 31, 0), at(2026, 12, 4, 15, 2, 0)},
		{"Berlin winter: 09:00 CET is 08:00 UTC", nightAndDay, berlin,
			at(2026, 1, 15, 7, 30, 0), at(2026, 1, 15, 8, 0, 0)},
		{"Berlin summer: 09:00 CEST is 07:00 UTC", nightAndDay, berlin,
			at(2026, 7, 15, 6, 30, 0), at(2026, 7, 15, 7, 0, 0)},

		// Berlin, 2026-03-29: 02:00 CET (01:00 UTC) becomes 03:00 CEST.
		{"spring: periodicity is elapsed time across the jump", nightAndDay, berlin,
			at(2026, 3, 29, 0, 30, 0), at(2026, 3, 29, 1, 30, 0)},
		{"spring: the night window is an hour shorter", nightAndDay, berlin,
			at(2026, 3, 29, 6, 30, 0), at(2026, 3, 29, 7, 0, 0)},
		{"spring: a boundary at skipped 02:00 takes effect at the jump", twoOClock, berlin,
			at(2026, 3, 29, 0, 30, 0), at(2026, 3, 29, 1, 0, 0)},
		{"spring: a skipped window leaves its equal neighbours one window", skipped, berlin,
			at(2026, 3, 29, 0, 55, 0), at(2026, 3, 29, 1, 5, 0)},
		{"spring: the day before, the 02:xx window is there", skipped, berlin,
			at(2026, 3, 28, 0, 55, 0), at(2026, 3, 28, 1, 0, 0)},

		// Berlin, 2026-10-25: 03:00 CEST (01:00 UTC) becomes 02:00 CET.
		{"autumn: periodicity is elapsed time across the repeat", nightAndDay, berlin,
			at(2026, 10, 25, 0, 30, 0), at(2026, 10, 25, 1, 30, 0)},
		{"autumn: the night window is an hour longer", nightAndDay, berlin,
			at(2026, 10, 25, 7, 30, 0), at(2026, 10, 25, 8, 0, 0)},
		{"autumn: a boundary at repeated 02:00 takes effect the first time", twoOClock, berlin,
			at(2026, 10, 24, 23, 30, 0), at(2026, 10, 25, 0, 0, 0)},
		{"autumn: the second 02:30 keeps the window that began at the first 02:00", twoOClock, berlin,
			at(2026, 10, 25, 1, 30, 0), at(2026, 10, 25, 1, 40, 0)},
		// The second 02:10 is not in the 02:00-02:29 gap: that ended at the first
		// 02:30 (and a deadline from that gap's end would be in the past).
		{"autumn: in the second pass, the first pass's boundaries have passed",
			"30-59 * * * * 600", berlin,
			at(2026, 10, 25, 1, 10, 0), at(2026, 10, 25, 1, 20, 0)},

		// New York, 2026-03-08: 02:00 EST (07:00 UTC) becomes 03:00 EDT.
		{"New York spring: elapsed hour", nightAndDay, newYork,
			at(2026, 3, 8, 6, 30, 0), at(2026, 3, 8, 7, 30, 0)},
		{"New York spring: 09:00 EDT", nightAndDay, newYork,
			at(2026, 3, 8, 12, 30, 0), at(2026, 3, 8, 13, 0, 0)},
		{"New York spring: skipped 02:00 takes effect at the jump", twoOClock, newYork,
			at(2026, 3, 8, 6, 30, 0), at(2026, 3, 8, 7, 0, 0)},

		// New York, 2026-11-01: 02:00 EDT (06:00 UTC) becomes 01:00 EST.
		{"New York autumn: 09:00 EST", nightAndDay, newYork,
			at(2026, 11, 1, 13, 30, 0), at(2026, 11, 1, 14, 0, 0)},
		{"New York autumn: the second 01:30 is still night", twoOClock, newYork,
			at(2026, 11, 1, 6, 30, 0), at(2026, 11, 1, 7, 0, 0)},
		{"New York autumn: the first 01:30", twoOClock, newYork,
			at(2026, 11, 1, 5, 30, 0), at(2026, 11, 1, 6, 30, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.schedule)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.schedule, err)
			}
			got, err := s.DeadlineIn(tt.whence, tt.loc)
			if err != nil {
				t.Fatalf("DeadlineIn(%v): %v", tt.whence, err)
			}
			if got != tt.want {
				t.Errorf("DeadlineIn(%v) = %v (%v), want %v (%v)", tt.whence, got, got.In(tt.loc),
					tt.want, tt.want.In(tt.loc))
			}
		})
	}
}

func TestPlayOutIn(t *testing.T) {
	berlin, newYork := mustZone(t, "Europe/Berlin"), mustZone(t, "America/New_York")
	tests := []struct {
		name     string
		schedule string
		loc      *time.Location
		start    time.Time
		want     []Window // the first len(want) windows
	}{
		{"Berlin spring: the night is 8 hours", "* 0-8 * * * 3600; * 9-23 * * * 600", berlin,
			at(2026, 3, 28, 12, 0, 0), []Window{
				w(at(2026, 3, 28, 12, 0, 0), at(2026, 3, 28, 22, 59, 0), 600),
				w(at(2026, 3, 28, 23, 0, 0), at(2026, 3, 29, 6, 59, 0), 3600),
				w(at(2026, 3, 29, 7, 0, 0), at(2026, 3, 29, 21, 59, 0), 600),
				w(at(2026, 3, 29, 22, 0, 0), at(2026, 3, 30, 6, 59, 0), 3600),
			}},
		{"Berlin autumn: the night is 10 hours", "* 0-8 * * * 3600; * 9-23 * * * 600", berlin,
			at(2026, 10, 24, 12, 0, 0), []Window{
				w(at(2026, 10, 24, 12, 0, 0), at(2026, 10, 24, 21, 59, 0), 600),
				w(at(2026, 10, 24, 22, 0, 0), at(2026, 10, 25, 7, 59, 0), 3600),
				w(at(2026, 10, 25, 8, 0, 0), at(2026, 10, 25, 22, 59, 0), 600),
			}},
		{"Berlin spring: skipped 02:00 starts the day at 03:00 CEST", "* 0-1 * * * 3600; * 2-23 * * * 600", berlin,
			at(2026, 3, 28, 23, 0, 0), []Window{
				w(at(2026, 3, 28, 23, 0, 0), at(2026, 3, 29, 0, 59, 0), 3600),
				w(at(2026, 3, 29, 1, 0, 0), at(2026, 3, 29, 21, 59, 0), 600),
				w(at(2026, 3, 29, 22, 0, 0), at(2026, 3, 29, 23, 59, 0), 3600),
			}},
		{"Berlin autumn: repeated 02:00 starts the day the first time", "* 0-1 * * * 3600; * 2-23 * * * 600", berlin,
			at(2026, 10, 24, 22, 0, 0), []Window{
				w(at(2026, 10, 24, 22, 0, 0), at(2026, 10, 24, 23, 59, 0), 3600),
				w(at(2026, 10, 25, 0, 0, 0), at(2026, 10, 25, 22, 59, 0), 600),
				w(at(2026, 10, 25, 23, 0, 0), at(2026, 10, 26, 0, 59, 0), 3600),
			}},
		{"Berlin spring: the skipped 02:xx window vanishes and its neighbours merge",
			"* 0-1 * * * 600; * 2 * * * 60; * 3-23 * * * 600", berlin,
			at(2026, 3, 28, 0, 0, 0), []Window{
				w(at(2026, 3, 28, 0, 0, 0), at(2026, 3, 28, 0, 59, 0), 600),
				w(at(2026, 3, 28, 1, 0, 0), at(2026, 3, 28, 1, 59, 0), 60),
				w(at(2026, 3, 28, 2, 0, 0), at(2026, 3, 29, 23, 59, 0), 600),
				w(at(2026, 3, 30, 0, 0, 0), at(2026, 3, 30, 0, 59, 0), 60),
			}},
		{"Berlin autumn: the 02:xx window lasts both passes", "* 0-1 * * * 600; * 2 * * * 60; * 3-23 * * * 600", berlin,
			at(2026, 10, 24, 23, 0, 0), []Window{
				w(at(2026, 10, 24, 23, 0, 0), at(2026, 10, 24, 23, 59, 0), 600),
				w(at(2026, 10, 25, 0, 0, 0), at(2026, 10, 25, 1, 59, 0), 60),
				w(at(2026, 10, 25, 2, 0, 0), at(2026, 10, 26, 0, 59, 0), 600),
			}},
		{"Berlin autumn: starting in the second pass", "* 0-1 * * * 600; * 2 * * * 60; * 3-23 * * * 600", berlin,
			time.Date(2026, 10, 25, 1, 30, 42, 0, time.UTC), []Window{
				w(at(2026, 10, 25, 1, 30, 0), at(2026, 10, 25, 1, 59, 0), 60),
				w(at(2026, 10, 25, 2, 0, 0), at(2026, 10, 26, 0, 59, 0), 600),
			}},
		{"Berlin autumn: the half hour from the first 02:30 lasts to 03:00 CET",
			"0-29 * * * * 60; 30-59 * * * * 120", berlin,
			at(2026, 10, 25, 0, 0, 0), []Window{
				w(at(2026, 10, 25, 0, 0, 0), at(2026, 10, 25, 0, 29, 0), 60),
				w(at(2026, 10, 25, 0, 30, 0), at(2026, 10, 25, 1, 59, 0), 120),
				w(at(2026, 10, 25, 2, 0, 0), at(2026, 10, 25, 2, 29, 0), 60),
			}},
		{"Berlin, the end of a leap year under a zone rule (see periodAt)",
			"* 0-8 * * * 3600; * 9-23 * * * 600", berlin, at(2040, 12, 30, 12, 0, 0), []Window{
				w(at(2040, 12, 30, 12, 0, 0), at(2040, 12, 30, 22, 59, 0), 600),
				w(at(2040, 12, 30, 23, 0, 0), at(2040, 12, 31, 7, 59, 0), 3600),
				w(at(2040, 12, 31, 8, 0, 0), at(2040, 12, 31, 22, 59, 0), 600),
				w(at(2040, 12, 31, 23, 0, 0), at(2041, 1, 1, 7, 59, 0), 3600),
			}},
		{"New York spring", "* 0-8 * * * 3600; * 9-23 * * * 600", newYork,
			at(2026, 3, 7, 14, 0, 0), []Window{
				w(at(2026, 3, 7, 14, 0, 0), at(2026, 3, 8, 4, 59, 0), 600),
				w(at(2026, 3, 8, 5, 0, 0), at(2026, 3, 8, 12, 59, 0), 3600),
				w(at(2026, 3, 8, 13, 0, 0), at(2026, 3, 9, 3, 59, 0), 600),
			}},
		{"New York autumn", "* 0-8 * * * 3600; * 9-23 * * * 600", newYork,
			at(2026, 10, 31, 13, 0, 0), []Window{
				w(at(2026, 10, 31, 13, 0, 0), at(2026, 11, 1, 3, 59, 0), 600),
				w(at(2026, 11, 1, 4, 0, 0), at(2026, 11, 1, 13, 59, 0), 3600),
				w(at(2026, 11, 1, 14, 0, 0), at(2026, 11, 2, 4, 59, 0), 600),
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.schedule)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.schedule, err)
			}
			got, err := s.PlayOutIn(tt.start, tt.loc)
			if err != nil {
				t.Fatalf("PlayOutIn: %v", err)
			}
			if len(got) < len(tt.want) {
				t.Fatalf("PlayOutIn gave %d windows:\n%s", len(got), formatWindows(got))
			}
			if !sameWindows(got[:len(tt.want)], tt.want) {
				t.Errorf("PlayOutIn:\n%s", diffWindows(got[:len(tt.want)], tt.want))
			}
			for i := 1; i < len(got); i++ {
				if got[i].Start != got[i-1].End.Add(time.Minute) {
					t.Errorf("window %d starts at %v, not a minute after %v", i, got[i].Start, got[i-1].End)
				}
			}
			if end := tt.start.Truncate(time.Minute).Add(playOutWeek); got[len(got)-1].End != end {
				t.Errorf("the play-out ends at %v, want %v", got[len(got)-1].End, end)
			}
		})
	}
}

func TestZonedOverlap(t *testing.T) {
	berlin := mustZone(t, "Europe/Berlin")
	s, err := Parse("* * * * sat,sun 60 ; * 0-11 * * * 90")
	if err != nil {
		t.Fatal(err)
	}
	// Friday 2026-07-03 23:00 UTC is already Saturday 01:00 CEST.
	_, err = s.DeadlineIn(at(2026, 7, 3, 23, 0, 0), berlin)
	if !errors.Is(err, ErrOverlap) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("DeadlineIn error = %v, want ErrOverlap", err)
	}
	if want := "2026-07-04T01:00:00+02:00"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %s", err, want)
	}
	if _, err := s.PlayOutIn(at(2026, 7, 1, 0, 0, 0), berlin); !errors.Is(err, ErrOverlap) {
		t.Errorf("PlayOutIn error = %v, want ErrOverlap", err)
	}
	// Friday 10:00 UTC is inside the morning window in UTC, but already in the
	// afternoon gap in Berlin, which runs into Saturday's overlap.
	if _, err := s.Deadline(at(2026, 7, 3, 10, 0, 0)); err != nil {
		t.Errorf("Deadline: %v", err)
	}
	if _, err := s.DeadlineIn(at(2026, 7, 3, 10, 0, 0), berlin); !errors.Is(err, ErrOverlap) {
		t.Errorf("DeadlineIn on Friday afternoon: %v, want ErrOverlap", err)
	}
	// An overlap that only a skipped hour holds never happens.
	s, err = Parse("* 0-1 * * * 600; * 2 * * * 60; 30 2 * * * 30; * 3-23 * * * 600")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.DeadlineIn(at(2026, 3, 29, 0, 55, 0), berlin); err != nil || got != at(2026, 3, 29, 1, 5, 0) {
		t.Errorf("DeadlineIn across a skipped overlap = %v, %v", got, err)
	}
}

func FuzzDeadlineIn(f *testing.F) {
	for _, seed := range zonedSchedules {
		f.Add(seed, int64(1774746000), uint8(0)) // 2026-03-29T01:00:00Z
		f.Add(seed, int64(1792890000), uint8(1)) // 2026-10-25T01:00:00Z
	}
	locs := []*time.Location{mustZone(f, "Europe/Berlin"), mustZone(f, "America/New_York"),
		mustZone(f, "Australia/Lord_Howe"), mustZone(f, "Pacific/Apia"), mustZone(f, "Etc/UTC")}
	f.Fuzz(func(t *testing.T, text string, unix int64, zone uint8) {
		s, err := Parse(text)
		if err != nil {
			return
		}
		loc := locs[int(zone)%len(locs)]
		whence := time.Unix(unix%(1<<34), 0).UTC() // within ±500 years of 1970
		deadline, err := s.DeadlineIn(whence, loc)
		if err == nil && deadline.Before(whence) {
			t.Fatalf("DeadlineIn(%q, %v, %v) = %v, before whence", text, whence, loc, deadline)
		}
		if err != nil && !errors.Is(err, ErrOverlap) {
			t.Fatalf("DeadlineIn(%q, %v, %v): %v", text, whence, loc, err)
		}
		windows, err := s.PlayOutIn(whence, loc)
		if err != nil {
			return
		}
		for i := 1; i < len(windows); i++ {
			if windows[i].Start != windows[i-1].End.Add(time.Minute) || !windows[i].Start.After(windows[i-1].Start) {
				t.Fatalf("PlayOutIn(%q, %v, %v): window %d does not follow window %d:\n%s",
					text, whence, loc, i, i-1, formatWindows(windows))
			}
		}
	})
}
