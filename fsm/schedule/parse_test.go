package schedule

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name       string
		schedule   string
		directives int
		keys       []string
	}{
		{"one directive", "* * * * * 60", 1, []string{"60"}},
		{"comments and empty directives", "# a comment ; ; * * * * * 60 ;  # another;", 1, []string{"60"}},
		{"README example", readmeSchedule, 3, []string{"300", "90"}},
		{"tabs and runs of blanks", "\t*   0-12\t* *  mon-fri \t 300 ", 1, []string{"300"}},
		{"same text is one key, same value is not", "* 0 * * * 60; * 1 * * * 60.0; * 2 * * * 60", 3,
			[]string{"60", "60.0"}},
		{"Python float forms", "* 0 * * * 1_000; * 1 * * * .5; * 2 * * * 1e3; * 3 * * * +5; * 4 * * * 5.", 5,
			[]string{"1_000", ".5", "1e3", "+5", "5."}},
		{"names and steps", "*/5 9-17/2 * JAN-jun MON-Fri 90", 1, []string{"90"}},
		{"both day fields", "0 12 13 * fri 60", 1, []string{"60"}},
		{"a carriage return is a blank", "* * * * * 60\r", 1, []string{"60"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.schedule)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.schedule, err)
			}
			if s.Len() != tt.directives {
				t.Errorf("Len() = %d, want %d", s.Len(), tt.directives)
			}
			var keys []string
			for _, k := range s.keys {
				keys = append(keys, k.text)
			}
			if strings.Join(keys, "|") != strings.Join(tt.keys, "|") {
				t.Errorf("keys = %q, want %q", keys, tt.keys)
			}
		})
	}
}

func TestParseSeconds(t *testing.T) {
	s, err := Parse("* 0 * * * 1_000; * 1 * * * .5; * 2 * * * 1e3; * 3 * * * 0.0000001")
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{1000, 0.5, 1000, 0.0000001}
	for i, k := range s.keys {
		if k.seconds != want[i] {
			t.Errorf("key %q = %v seconds, want %v", k.text, k.seconds, want[i])
		}
	}
	// Like Python's timedelta, a periodicity is kept to the microsecond.
	if s.keys[3].period != 0 {
		t.Errorf("0.0000001 s = %v, want 0 (microsecond precision)", s.keys[3].period)
	}
}

// TestShortest: the smallest seconds of a schedule and the first directive with it;
// Parse itself has no floor, so a schedule stored before one existed still parses.
func TestShortest(t *testing.T) {
	for _, tt := range []struct {
		schedule, directive string
		seconds             float64
	}{
		{"* * * * * 60", "* * * * * 60", 60},
		{"# comment ; * * * * sat,sun 300 ; * * * * mon-fri 90", "* * * * mon-fri 90", 90},
		{"* 0 * * * 1_000; * 1 * * * .5; * 2 * * * 0.5", "* 1 * * * .5", 0.5},
		{"* * * * * 0.001", "* * * * * 0.001", 0.001},
	} {
		s, err := Parse(tt.schedule)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.schedule, err)
		}
		if seconds, directive := s.Shortest(); seconds != tt.seconds || directive != tt.directive {
			t.Errorf("Shortest(%q) = %v, %q; want %v, %q", tt.schedule, seconds, directive, tt.seconds, tt.directive)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
	}{
		{"empty", ""},
		{"only blanks and semicolons", " ; ;; "},
		{"only comments", "# nothing ; # here"},
		{"newline", "* * * * sat 1200\n* * * * sun 400"},
		{"five fields", "* * * * 1200"},
		{"seconds not a number", "* * * * * froodle"},
		{"seconds with a trailing word", "* * * * * 60 seconds"},
		{"negative seconds", "* * * * * -1"},
		{"zero seconds", "* * * * * 0"},
		{"NaN seconds", "* * * * * nan"},
		{"infinite seconds", "* * * * * inf"},
		{"hexadecimal seconds", "* * * * * 0x10"},
		{"double underscore", "* * * * * 1__0"},
		{"too many seconds", "* * * * * 1e10"},
		{"minute out of range", "60 * * * * 60"},
		{"hour out of range", "* 24 * * * 60"},
		{"day of month zero", "* * 0 * * 60"},
		{"month out of range", "* * * 13 * 60"},
		{"weekday out of range", "* * * * 8 60"},
		{"unknown name", "* * * foo * 60"},
		{"backwards range", "5-1 * * * * 60"},
		{"zero step", "*/0 * * * * 60"},
		{"empty list item", "* * * * mon,,tue 60"},
		{"bare L in day of week", "* * * * L 60"},
		{"never active: February 30th", "* * 30 2 * 60"},
		{"never active: April 31st", "0 0 31 4 * 60"},
		{"never active: the 1st in the last week", "0 0 1 * l5 60"},
		{"a good directive and a bad one", "* * * * * 60; * * * * 60"},
		{"too many directives", strings.Repeat("0 0 1 1 * 60;", 65)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.schedule)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) = %v, %v; want an error wrapping ErrInvalid", tt.schedule, s, err)
			}
			if errors.Is(err, ErrOverlap) {
				t.Errorf("Parse(%q) error %v wraps ErrOverlap", tt.schedule, err)
			}
			if err := Validate(tt.schedule); !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate(%q) = %v, want an error wrapping ErrInvalid", tt.schedule, err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
		overlap  bool
	}{
		{"README example", readmeSchedule, false},
		{"service example", serviceSchedule, false},
		{"Saturday gap", saturdayGapSchedule, false},
		{"README overlap example", "* * * * sat,sun 60 ; * 0-11 * * * 90", true},
		{"same minute twice", "* * * * * 30; * * * * * 60", true},
		{"same key still overlaps", "* * * * * 60; 0 0 1 1 * 60", true},
		{"disjoint minutes", "0-29 * * * * 60; 30-59 * * * * 90", false},
		{"February 29th that is a Monday", "0 0 29 2 * 60; 0 0 * * mon 30", true},
		{"February 29th and March", "0 0 29 2 * 60; 0 0 * 3 * 30", false},
		{"both day fields must match", "* * 1-15 * mon 60; * * 16-31 * mon 30", false},
		{"last day and the 31st", "0 0 L * * 60; 0 0 31 * * 30", true},
		{"last day and the 30th of February", "0 0 L 2 * 60; 0 0 1-27 2 * 30", false},
		{"last Friday and Fridays after the 24th", "0 0 * * l5 60; 0 0 25-31 * fri 30", true},
		{"last Friday and Fridays before the 22nd", "0 0 * * l5 60; 0 0 1-21 * fri 30", false},
		{"Sunday as 0 and 7", "* * * * 0 60; * * * * 7 30", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.schedule)
			if tt.overlap != (err != nil) {
				t.Fatalf("Validate(%q) = %v, want overlap %v", tt.schedule, err, tt.overlap)
			}
			if err != nil && (!errors.Is(err, ErrOverlap) || !errors.Is(err, ErrInvalid)) {
				t.Errorf("Validate(%q) = %v, want ErrOverlap and ErrInvalid", tt.schedule, err)
			}
		})
	}
}
