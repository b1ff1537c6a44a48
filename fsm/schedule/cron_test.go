package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustCron(t testing.TB, text string) *Cron {
	t.Helper()
	c, err := ParseCron(text)
	if err != nil {
		t.Fatalf("ParseCron(%q): %v", text, err)
	}
	return c
}

func TestParseCron(t *testing.T) {
	tests := []struct {
		text       string
		wantString string
		// after and want check what the fields mean, in UTC.
		after, want time.Time
	}{
		{"* * * * *", "* * * * *", at(2026, 12, 4, 14, 31, 0), at(2026, 12, 4, 14, 32, 0)},
		{"  0 0 * * *\t", "0 0 * * *", at(2026, 12, 4, 14, 31, 0), at(2026, 12, 5, 0, 0, 0)},
		{"*\t*\t*\t*\t*", "*\t*\t*\t*\t*", at(2026, 12, 4, 14, 31, 0), at(2026, 12, 4, 14, 32, 0)},
		{"0-59/20 */6 * * *", "0-59/20 */6 * * *", at(2026, 12, 4, 14, 31, 0), at(2026, 12, 4, 18, 0, 0)},
		{"5,10-12 3 * * *", "5,10-12 3 * * *", at(2026, 12, 4, 3, 5, 0), at(2026, 12, 4, 3, 10, 0)},
		{"0 0 1-31/10 * *", "0 0 1-31/10 * *", at(2026, 12, 1, 0, 0, 0), at(2026, 12, 11, 0, 0, 0)},
		{"0 0 1 jan-dec/3 *", "0 0 1 jan-dec/3 *", at(2026, 1, 1, 0, 0, 0), at(2026, 4, 1, 0, 0, 0)},
		{"0 12 * JAN,Jul Sun", "0 12 * JAN,Jul Sun", at(2026, 1, 31, 0, 0, 0), at(2026, 7, 5, 12, 0, 0)},
		{"0 0 * * MON-fri", "0 0 * * MON-fri", at(2026, 12, 4, 0, 0, 0), at(2026, 12, 7, 0, 0, 0)},
		{"0 0 * * 7", "0 0 * * 7", at(2026, 12, 4, 0, 0, 0), at(2026, 12, 6, 0, 0, 0)},
		{"0 0 * * 6-7", "0 0 * * 6-7", at(2026, 12, 5, 0, 0, 0), at(2026, 12, 6, 0, 0, 0)},
		{"0 0 * * */7", "0 0 * * */7", at(2026, 12, 4, 0, 0, 0), at(2026, 12, 6, 0, 0, 0)},
		{"00 05 * * *", "00 05 * * *", at(2026, 12, 4, 0, 0, 0), at(2026, 12, 4, 5, 0, 0)},
		{"@yearly", "@yearly", at(2026, 12, 4, 0, 0, 0), at(2027, 1, 1, 0, 0, 0)},
		{"@ANNUALLY", "@ANNUALLY", at(2026, 12, 4, 0, 0, 0), at(2027, 1, 1, 0, 0, 0)},
		{"@monthly", "@monthly", at(2026, 12, 4, 0, 0, 0), at(2027, 1, 1, 0, 0, 0)},
		{"@weekly", "@weekly", at(2026, 12, 4, 0, 0, 0), at(2026, 12, 6, 0, 0, 0)},
		{"@daily", "@daily", at(2026, 12, 4, 0, 0, 0), at(2026, 12, 5, 0, 0, 0)},
		{"@midnight", "@midnight", at(2026, 12, 4, 0, 0, 0), at(2026, 12, 5, 0, 0, 0)},
		{" @hourly ", "@hourly", at(2026, 12, 4, 0, 0, 0), at(2026, 12, 4, 1, 0, 0)},
		// Either day field may match: every Monday in April, though April 31st is not.
		{"0 0 31 4 mon", "0 0 31 4 mon", at(2026, 4, 1, 0, 0, 0), at(2026, 4, 6, 0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			c := mustCron(t, tt.text)
			if c.String() != tt.wantString {
				t.Errorf("String() = %q, want %q", c.String(), tt.wantString)
			}
			if err := ValidateCron(tt.text); err != nil {
				t.Errorf("ValidateCron: %v", err)
			}
			if got, err := c.Next(tt.after, time.UTC); err != nil || got != tt.want {
				t.Errorf("Next(%v) = %v, %v; want %v", tt.after, got, err, tt.want)
			}
		})
	}
}

func TestParseCronErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"", "has 0 fields"},
		{"   ", "has 0 fields"},
		{"* * * *", "has 4 fields"},
		{"0 * * * * *", "6 fields"},
		{"0 0 * * * /bin/true", "6 fields"},
		{"* * * * * * *", "has 7 fields"},
		{"@reboot", "@reboot"},
		{"@every 5m", "unknown @ name"},
		{"@daily *", "unknown @ name"},
		{"60 * * * *", "out of range"},
		{"* 24 * * *", "out of range"},
		{"* * 0 * *", "out of range"},
		{"* * 32 * *", "out of range"},
		{"* * * 0 *", "out of range"},
		{"* * * 13 *", "out of range"},
		{"* * * * 8", "out of range"},
		{"-1 * * * *", "missing number"},
		{"+1 * * * *", "not a number"},
		{"0x1 * * * *", "not a number"},
		{"001 * * * *", "not a number"},
		{"5/10 * * * *", "a step needs a range"},
		{"*/0 * * * *", "step"},
		{"*/60 * * * *", "step"},
		{"*/ * * * *", "step"},
		{"*/1/2 * * * *", "step"},
		{"1-2-3 * * * *", "not a number"},
		{"5-1 * * * *", "backwards"},
		{"* * * * sat-sun", "backwards"},
		{"* * * * fri-mon", "backwards"},
		{"1,,2 * * * *", "empty list element"},
		{",1 * * * *", "empty list element"},
		{"1, * * * *", "empty list element"},
		{"* * ? * *", "not a number"},
		{"* * L * *", "not a number"},
		{"* * 15W * *", "not a number"},
		{"* * * * 5#3", "not a number"},
		{"* * * * 5L", "not a number"},
		{"0 0 * * monday", "not a number"},
		{"0 0 * january *", "not a number"},
		{"0 0 * * jan", "not a number"},
		{"0 0 * mon *", "not a number"},
		{"0 jan * * *", "not a number"},
		{"**/2 * * * *", "not a number"},
		{"0\n0 * * * *", "not a number"},
		{"0 0 30 2 *", "matches no day"},
		{"0 0 31 4 *", "matches no day"},
		{"0 0 31 2,4,6,9,11 *", "matches no day"},
		{"0 0 30 2 */2", "matches no day"}, // "*/2" starts with '*': both must match
		{"0 0 30,31 feb *", "matches no day"},
		{strings.Repeat(" ", 250) + "* * * * *", "longer than 256 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			c, err := ParseCron(tt.text)
			if !errors.Is(err, ErrBadCron) {
				t.Fatalf("ParseCron(%q) = %v, %v; want ErrBadCron", tt.text, c, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseCron(%q) error %q does not say %q", tt.text, err, tt.want)
			}
			if err := ValidateCron(tt.text); !errors.Is(err, ErrBadCron) {
				t.Errorf("ValidateCron(%q) = %v", tt.text, err)
			}
		})
	}
}

// cronCase is one Next: the runs after `after`, in order.
type cronCase struct {
	name  string
	expr  string
	zone  string
	after time.Time
	want  []time.Time
}

func runCronCases(t *testing.T, tests []cronCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, loc := mustCron(t, tt.expr), mustZone(t, tt.zone)
			after := tt.after
			for i, want := range tt.want {
				got, err := c.Next(after, loc)
				if err != nil {
					t.Fatalf("run %d: Next(%v): %v", i, after, err)
				}
				if got != want {
					t.Fatalf("run %d: Next(%v) = %v (%v), want %v (%v)", i, after, got,
						got.In(loc).Format(time.RFC3339), want, want.In(loc).Format(time.RFC3339))
				}
				after = got
			}
		})
	}
}

func TestCronNext(t *testing.T) {
	runCronCases(t, []cronCase{
		{"Tokyo 02:00 is 17:00 UTC the day before", "0 2 * * *", "Asia/Tokyo",
			at(2026, 12, 4, 14, 31, 0), []time.Time{at(2026, 12, 4, 17, 0, 0), at(2026, 12, 5, 17, 0, 0)}},
		{"daily in UTC", "@daily", "UTC", at(2026, 12, 4, 14, 31, 0),
			[]time.Time{at(2026, 12, 5, 0, 0, 0), at(2026, 12, 6, 0, 0, 0)}},
		{"daily in Berlin is 23:00 UTC in winter", "@daily", "Europe/Berlin", at(2026, 12, 4, 14, 31, 0),
			[]time.Time{at(2026, 12, 4, 23, 0, 0), at(2026, 12, 5, 23, 0, 0)}},
		{"daily in Berlin is 22:00 UTC in summer", "@daily", "Europe/Berlin", at(2026, 7, 4, 14, 31, 0),
			[]time.Time{at(2026, 7, 4, 22, 0, 0)}},
		{"strictly after: a run time is not its own next", "@hourly", "UTC", at(2026, 12, 4, 14, 0, 0),
			[]time.Time{at(2026, 12, 4, 15, 0, 0)}},
		{"strictly after: a nanosecond before", "@hourly", "UTC",
			time.Date(2026, 12, 4, 14, 59, 59, 999_999_999, time.UTC), []time.Time{at(2026, 12, 4, 15, 0, 0)}},
		{"after is read as an instant, whatever its location", "0 15 * * *", "UTC",
			time.Date(2026, 12, 4, 14, 31, 0, 0, time.FixedZone("+09", 9*3600)), []time.Time{at(2026, 12, 4, 15, 0, 0)}},
		{"business hours on a Friday", "*/15 9-17 * * mon-fri", "UTC", at(2026, 12, 4, 14, 31, 0),
			[]time.Time{at(2026, 12, 4, 14, 45, 0), at(2026, 12, 4, 15, 0, 0)}},
		{"business hours: Friday evening waits for Monday", "*/15 9-17 * * mon-fri", "UTC",
			at(2026, 12, 4, 17, 45, 0), []time.Time{at(2026, 12, 7, 9, 0, 0)}},
		{"business hours in New York", "*/15 9-17 * * mon-fri", "America/New_York",
			at(2026, 12, 4, 22, 50, 0), []time.Time{at(2026, 12, 7, 14, 0, 0)}},
		// 2026-05-01 and 2026-05-29 are Fridays; June 1st is a Monday.
		{"either day field: Fridays and the 1st and 15th", "0 0 1,15 * 5", "UTC", at(2026, 5, 1, 0, 0, 0),
			[]time.Time{at(2026, 5, 8, 0, 0, 0), at(2026, 5, 15, 0, 0, 0), at(2026, 5, 22, 0, 0, 0),
				at(2026, 5, 29, 0, 0, 0), at(2026, 6, 1, 0, 0, 0), at(2026, 6, 5, 0, 0, 0)}},
		{"a '*/15' day of month: both must match", "0 0 */15 * fri", "UTC", at(2026, 5, 1, 0, 0, 0),
			[]time.Time{at(2026, 7, 31, 0, 0, 0)}},
		{"February 29th", "0 0 29 2 *", "UTC", at(2026, 3, 1, 0, 0, 0),
			[]time.Time{at(2028, 2, 29, 0, 0, 0), at(2032, 2, 29, 0, 0, 0)}},
		{"February 29th: 2100 is not a leap year", "0 0 29 2 *", "UTC", at(2097, 3, 1, 0, 0, 0),
			[]time.Time{at(2104, 2, 29, 0, 0, 0)}},
		{"February 29th on a Sunday, decades apart", "0 0 29 2 */7", "UTC", at(2097, 3, 1, 0, 0, 0),
			[]time.Time{at(2128, 2, 29, 0, 0, 0), at(2156, 2, 29, 0, 0, 0)}},
		{"year rollover", "59 23 31 12 *", "UTC", at(2026, 12, 31, 23, 59, 0),
			[]time.Time{at(2027, 12, 31, 23, 59, 0)}},
		{"yearly from the last second of the year", "@yearly", "UTC",
			time.Date(2026, 12, 31, 23, 59, 59, 500_000_000, time.UTC), []time.Time{at(2027, 1, 1, 0, 0, 0)}},
		{"yearly in Tokyo", "@yearly", "Asia/Tokyo", at(2026, 12, 31, 14, 59, 0),
			[]time.Time{at(2026, 12, 31, 15, 0, 0), at(2027, 12, 31, 15, 0, 0)}},
		{"last minute of every month", "59 23 31 * *", "UTC", at(2026, 1, 31, 23, 59, 0),
			[]time.Time{at(2026, 3, 31, 23, 59, 0), at(2026, 5, 31, 23, 59, 0)}},
		// Past 2037 Go derives Berlin's offsets from a rule, and its zone periods of
		// a leap year end on December 30th (see periodAt).
		{"December 31st of a leap year under a zone rule", "0 12 31 12 *", "Europe/Berlin",
			at(2040, 12, 30, 0, 0, 0), []time.Time{at(2040, 12, 31, 11, 0, 0), at(2041, 12, 31, 11, 0, 0)}},
		{"every hour through a leap year's end in Sydney", "0 * * * *", "Australia/Sydney",
			at(2040, 12, 31, 11, 30, 0), []time.Time{at(2040, 12, 31, 12, 0, 0), at(2040, 12, 31, 13, 0, 0)}},
		{"Kolkata's half-hour offset", "0 9 * * *", "Asia/Kolkata", at(2026, 12, 4, 0, 0, 0),
			[]time.Time{at(2026, 12, 4, 3, 30, 0)}},
		{"an offset with seconds (Monrovia, 1970)", "0 0 * * *", "Africa/Monrovia", at(1970, 1, 1, 0, 0, 0),
			[]time.Time{time.Date(1970, 1, 1, 0, 44, 30, 0, time.UTC), time.Date(1970, 1, 2, 0, 44, 30, 0, time.UTC)}},
		// Samoa went from 2011-12-29T23:59:59-10:00 to 2011-12-31T00:00:00+14:00: the
		// skipped noon of the 30th runs at the jump, like any skipped time.
		{"Samoa skipped 2011-12-30", "0 12 * * *", "Pacific/Apia", at(2011, 12, 29, 0, 0, 0),
			[]time.Time{at(2011, 12, 29, 22, 0, 0), at(2011, 12, 30, 10, 0, 0), at(2011, 12, 30, 22, 0, 0)}},
	})
}

// Berlin: 2026-03-29 02:00 CET (01:00 UTC) -> 03:00 CEST; 2026-10-25 03:00 CEST
// (01:00 UTC) -> 02:00 CET. New York: 2026-03-08 02:00 EST (07:00 UTC) -> 03:00
// EDT; 2026-11-01 02:00 EDT (06:00 UTC) -> 01:00 EST.
func TestCronNextDST(t *testing.T) {
	runCronCases(t, []cronCase{
		{"Berlin spring: skipped 02:30 runs at 03:00 CEST, once", "30 2 * * *", "Europe/Berlin",
			at(2026, 3, 28, 12, 0, 0), []time.Time{at(2026, 3, 29, 1, 0, 0), at(2026, 3, 30, 0, 30, 0)}},
		{"Berlin spring: two skipped times run once", "0,30 2 * * *", "Europe/Berlin",
			at(2026, 3, 29, 0, 0, 0), []time.Time{at(2026, 3, 29, 1, 0, 0), at(2026, 3, 30, 0, 0, 0)}},
		{"Berlin spring: 01:59 CET is just before", "59 1 * * *", "Europe/Berlin",
			at(2026, 3, 28, 12, 0, 0), []time.Time{at(2026, 3, 29, 0, 59, 0), at(2026, 3, 29, 23, 59, 0)}},
		{"Berlin spring: 03:00 exists", "0 3 * * *", "Europe/Berlin",
			at(2026, 3, 29, 0, 0, 0), []time.Time{at(2026, 3, 29, 1, 0, 0), at(2026, 3, 30, 1, 0, 0)}},
		{"Berlin spring: a wildcard job skips 02:30", "30 * * * *", "Europe/Berlin",
			at(2026, 3, 29, 0, 0, 0), []time.Time{at(2026, 3, 29, 0, 30, 0), at(2026, 3, 29, 1, 30, 0)}},
		{"Berlin spring: every 15 minutes", "*/15 * * * *", "Europe/Berlin",
			at(2026, 3, 29, 0, 30, 0), []time.Time{at(2026, 3, 29, 0, 45, 0), at(2026, 3, 29, 1, 0, 0),
				at(2026, 3, 29, 1, 15, 0)}},
		{"Berlin autumn: 02:30 runs the first time only", "30 2 * * *", "Europe/Berlin",
			at(2026, 10, 24, 12, 0, 0), []time.Time{at(2026, 10, 25, 0, 30, 0), at(2026, 10, 26, 1, 30, 0)}},
		{"Berlin autumn: a fixed range of hours also runs once", "0 2-3 * * *", "Europe/Berlin",
			at(2026, 10, 24, 23, 0, 0), []time.Time{at(2026, 10, 25, 0, 0, 0), at(2026, 10, 25, 2, 0, 0),
				at(2026, 10, 26, 1, 0, 0)}},
		{"Berlin autumn: a fixed job asked during the second pass", "30 2 * * *", "Europe/Berlin",
			at(2026, 10, 25, 1, 15, 0), []time.Time{at(2026, 10, 26, 1, 30, 0)}},
		{"Berlin autumn: every 30 minutes, both passes", "*/30 * * * *", "Europe/Berlin",
			at(2026, 10, 25, 0, 15, 0), []time.Time{at(2026, 10, 25, 0, 30, 0), at(2026, 10, 25, 1, 0, 0),
				at(2026, 10, 25, 1, 30, 0), at(2026, 10, 25, 2, 0, 0)}},
		{"Berlin autumn: half past every hour, both passes", "30 * * * *", "Europe/Berlin",
			at(2026, 10, 25, 0, 0, 0), []time.Time{at(2026, 10, 25, 0, 30, 0), at(2026, 10, 25, 1, 30, 0),
				at(2026, 10, 25, 2, 30, 0)}},
		{"New York spring: skipped 02:30 runs at 03:00 EDT", "30 2 * * *", "America/New_York",
			at(2026, 3, 7, 12, 0, 0), []time.Time{at(2026, 3, 8, 7, 0, 0), at(2026, 3, 9, 6, 30, 0)}},
		{"New York spring: every 30 minutes", "*/30 * * * *", "America/New_York",
			at(2026, 3, 8, 6, 0, 0), []time.Time{at(2026, 3, 8, 6, 30, 0), at(2026, 3, 8, 7, 0, 0),
				at(2026, 3, 8, 7, 30, 0)}},
		{"New York autumn: 01:30 runs once", "30 1 * * *", "America/New_York",
			at(2026, 11, 1, 0, 0, 0), []time.Time{at(2026, 11, 1, 5, 30, 0), at(2026, 11, 2, 6, 30, 0)}},
		{"New York autumn: every 30 minutes, both passes", "*/30 * * * *", "America/New_York",
			at(2026, 11, 1, 4, 45, 0), []time.Time{at(2026, 11, 1, 5, 0, 0), at(2026, 11, 1, 5, 30, 0),
				at(2026, 11, 1, 6, 0, 0), at(2026, 11, 1, 6, 30, 0), at(2026, 11, 1, 7, 0, 0)}},
		{"New York autumn: hourly, both passes", "@hourly", "America/New_York",
			at(2026, 11, 1, 4, 30, 0), []time.Time{at(2026, 11, 1, 5, 0, 0), at(2026, 11, 1, 6, 0, 0),
				at(2026, 11, 1, 7, 0, 0)}},
		{"New York autumn: daily at midnight is unaffected", "@daily", "America/New_York",
			at(2026, 10, 31, 12, 0, 0), []time.Time{at(2026, 11, 1, 4, 0, 0), at(2026, 11, 2, 5, 0, 0)}},
	})
}

// Etc/UTC and fixed zones take the zoned path; it must agree with UTC's.
func TestCronNextZonedUTC(t *testing.T) {
	locs := []*time.Location{nil, mustZone(t, "Etc/UTC"), time.FixedZone("Z", 0)}
	for _, expr := range []string{"* * * * *", "*/15 9-17 * * mon-fri", "0 0 1,15 * 5", "0 0 29 2 *",
		"59 23 31 12 *", "@weekly", "0 0 */15 * fri"} {
		c := mustCron(t, expr)
		for _, after := range zonedWhences {
			want, err := c.Next(after, time.UTC)
			if err != nil {
				t.Fatalf("%q: Next(%v): %v", expr, after, err)
			}
			for _, loc := range locs {
				if got, err := c.Next(after, loc); err != nil || got != want {
					t.Errorf("%q in %v: Next(%v) = %v, %v; want %v", expr, loc, after, got, err, want)
				}
			}
		}
	}
}

func TestCronNextOutOfRange(t *testing.T) {
	c := mustCron(t, "@daily")
	for _, after := range []time.Time{time.Date(400000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-400000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if _, err := c.Next(after, time.UTC); !errors.Is(err, ErrBadCron) {
			t.Errorf("Next(%v) = %v, want ErrBadCron", after, err)
		}
	}
}

func FuzzParseCron(f *testing.F) {
	for _, seed := range []string{
		"* * * * *", "0 2 * * *", "*/15 9-17 * * mon-fri", "0 0 1,15 * 5", "0 0 29 2 *",
		"0 0 29 2 */7", "30 2 * * *", "@daily", "@reboot", "0 0 30 2 *", "5/10 * * * *",
		"0-59/7 1-23/5 1-31/9 jan-dec/5 sun-sat/2", "* * * * * *", "",
	} {
		f.Add(seed, int64(1774744200)) // 2026-03-29T00:30:00Z
	}
	locs := []*time.Location{time.UTC, mustZone(f, "Europe/Berlin"), mustZone(f, "America/New_York"),
		mustZone(f, "Australia/Lord_Howe"), mustZone(f, "Pacific/Apia")}
	f.Fuzz(func(t *testing.T, text string, unix int64) {
		c, err := ParseCron(text)
		if err != nil {
			if !errors.Is(err, ErrBadCron) {
				t.Fatalf("ParseCron(%q) error %v does not wrap ErrBadCron", text, err)
			}
			return
		}
		if c.String() != strings.TrimSpace(text) {
			t.Fatalf("String() = %q for %q", c.String(), text)
		}
		after := time.Unix(unix%(1<<34), 0) // within ±500 years of 1970
		for _, loc := range locs {
			next, err := c.Next(after, loc)
			if err != nil {
				t.Fatalf("Next(%q, %v, %v): %v", text, after, loc, err)
			}
			if !next.After(after) || next.Location() != time.UTC || next.Nanosecond() != 0 {
				t.Fatalf("Next(%q, %v, %v) = %v", text, after, loc, next)
			}
		}
	})
}

func BenchmarkCronNext(b *testing.B) {
	friday := at(2026, 12, 4, 17, 50, 0) // a Friday evening
	for _, bm := range []struct {
		name, expr, zone string
		after            time.Time
	}{
		{"every minute UTC", "* * * * *", "UTC", friday},
		{"business hours UTC", "*/15 9-17 * * mon-fri", "UTC", friday},
		{"business hours New York", "*/15 9-17 * * mon-fri", "America/New_York", friday},
		{"daily Berlin", "30 2 * * *", "Europe/Berlin", friday},
		{"February 29th seven years away UTC", "0 0 29 2 *", "UTC", at(2097, 3, 1, 0, 0, 0)},
		{"February 29th on a Sunday 31 years away Berlin", "0 0 29 2 */7", "Europe/Berlin",
			at(2097, 3, 1, 0, 0, 0)},
	} {
		b.Run(bm.name, func(b *testing.B) {
			c, loc := mustCron(b, bm.expr), mustZone(b, bm.zone)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Next(bm.after, loc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
