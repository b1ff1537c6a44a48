package schedule

import (
	"testing"
)

func bitsOf(values ...int) uint64 {
	var b uint64
	for _, v := range values {
		b |= 1 << uint(v)
	}
	return b
}

func rangeBits(lo, hi int) uint64 {
	var b uint64
	for v := lo; v <= hi; v++ {
		b |= 1 << uint(v)
	}
	return b
}

func TestFieldValues(t *testing.T) {
	tests := []struct {
		which fieldIndex
		text  string
		want  uint64
	}{
		{fieldMinute, "*", rangeBits(0, 59)},
		{fieldMinute, "0", bitsOf(0)},
		{fieldMinute, "059", bitsOf(59)},
		{fieldMinute, "1,3,5-6", bitsOf(1, 3, 5, 6)},
		{fieldMinute, "*/15", bitsOf(0, 15, 30, 45)},
		{fieldMinute, "*/59", bitsOf(0, 59)},
		{fieldMinute, "5/20", bitsOf(5, 25, 45)},
		{fieldMinute, "0-10/5", bitsOf(0, 5, 10)},
		{fieldMinute, "0-5/10", bitsOf(0)},
		{fieldMinute, "*/+1_0", bitsOf(0, 10, 20, 30, 40, 50)},
		{fieldMinute, "*,5", rangeBits(0, 59)},
		{fieldHour, "*/6", bitsOf(0, 6, 12, 18)},
		{fieldHour, "22-23,0-12", rangeBits(0, 12) | bitsOf(22, 23)},
		{fieldMonth, "*", rangeBits(1, 12)},
		{fieldMonth, "jan-mar", bitsOf(1, 2, 3)},
		{fieldMonth, "JAN,Dec", bitsOf(1, 12)},
		{fieldMonth, "mar-sep/3", bitsOf(3, 6, 9)},
		{fieldMonth, "*/11", bitsOf(1, 12)},
		{fieldDayOfWeek, "*", rangeBits(0, 6)},
		{fieldDayOfWeek, "?", rangeBits(0, 6)},
		{fieldDayOfWeek, "mon-fri", rangeBits(1, 5)},
		{fieldDayOfWeek, "Sat,SUN", bitsOf(0, 6)},
		{fieldDayOfWeek, "sat-sun", bitsOf(0, 6)},
		{fieldDayOfWeek, "fri-sun", bitsOf(0, 5, 6)},
		{fieldDayOfWeek, "5-0", bitsOf(0, 5, 6)},
		{fieldDayOfWeek, "7", bitsOf(0)},
		{fieldDayOfWeek, "0-7", rangeBits(0, 6)},
		{fieldDayOfWeek, "5-7/2", bitsOf(0, 5)},
		{fieldDayOfWeek, "sun-thu/2", bitsOf(0, 2, 4)},
		{fieldDayOfWeek, "*/2", bitsOf(0, 2, 4, 6)},
		{fieldDayOfWeek, "mon/2", bitsOf(1, 3, 5)},
		{fieldDayOfWeek, "*/7", bitsOf(0)},
	}
	for _, tt := range tests {
		f, err := parseField(tt.which, tt.text)
		if err != nil {
			t.Errorf("%s %q: %v", fieldSpecs[tt.which].name, tt.text, err)
			continue
		}
		if got := maskOf(f, tt.which); got != tt.want {
			t.Errorf("%s %q = %b, want %b", fieldSpecs[tt.which].name, tt.text, got, tt.want)
		}
	}
}

func TestFieldErrors(t *testing.T) {
	tests := []struct {
		which fieldIndex
		text  string
	}{
		{fieldMinute, ""},
		{fieldMinute, "60"},
		{fieldMinute, "-1"},
		{fieldMinute, "1,,2"},
		{fieldMinute, "1,"},
		{fieldMinute, "5-1"},
		{fieldMinute, "1-2-3"},
		{fieldMinute, "*/0"},
		{fieldMinute, "*/-5"},
		{fieldMinute, "*/60"},
		{fieldMinute, "30/30"},
		{fieldMinute, "50-55/10"},
		{fieldMinute, "*/2/3"},
		{fieldMinute, "*/"},
		{fieldMinute, "?"},
		{fieldMinute, "L"},
		{fieldMinute, "z1"},
		{fieldMinute, "l5"},
		{fieldMinute, "jan"},
		{fieldMinute, "*-5"},
		{fieldMinute, "1.5"},
		{fieldMinute, "٣"},
		{fieldHour, "24"},
		{fieldHour, "*/24"},
		{fieldDayOfMonth, "0"},
		{fieldDayOfMonth, "32"},
		{fieldDayOfMonth, "*/31"},
		{fieldDayOfMonth, "mon"},
		{fieldDayOfMonth, "l5"},
		{fieldDayOfMonth, "z8"},
		{fieldDayOfMonth, "z"},
		{fieldDayOfMonth, "z2-0"},
		{fieldDayOfMonth, "z3-2"},
		{fieldMonth, "0"},
		{fieldMonth, "13"},
		{fieldMonth, "*/12"},
		{fieldMonth, "january"},
		{fieldMonth, "?"},
		{fieldDayOfWeek, "8"},
		{fieldDayOfWeek, "*/8"},
		{fieldDayOfWeek, "7/1"},
		{fieldDayOfWeek, "sat-fri"},
		{fieldDayOfWeek, "monday"},
		{fieldDayOfWeek, "L"},
		{fieldDayOfWeek, "lfri"},
		{fieldDayOfWeek, "l8"},
		{fieldDayOfWeek, "l5/2"},
		{fieldDayOfWeek, "z1"},
	}
	for _, tt := range tests {
		if f, err := parseField(tt.which, tt.text); err == nil {
			t.Errorf("%s %q parsed as %+v, want an error", fieldSpecs[tt.which].name, tt.text, f)
		}
	}
}

func TestDayOfMonthEndOfMonth(t *testing.T) {
	tests := []struct {
		text   string
		length int
		want   uint64
	}{
		{"L", 31, bitsOf(31)},
		{"L", 28, bitsOf(28)},
		{"l", 29, bitsOf(29)},
		{"15,L", 30, bitsOf(15, 30)},
		{"z0", 30, bitsOf(30)},
		{"z1", 31, bitsOf(30)},
		{"z0-2", 28, bitsOf(26, 27, 28)},
		// As in the library, a zN piece decides the field once it is reached.
		{"1,z1", 31, bitsOf(30)},
		{"*,z1", 30, bitsOf(29)},
		{"L,z1", 31, bitsOf(30, 31)},
		{"?", 30, rangeBits(1, 30)},
		{"*/10", 31, bitsOf(1, 11, 21, 31)},
		{"29-31", 28, 0},
	}
	for _, tt := range tests {
		f, err := parseField(fieldDayOfMonth, tt.text)
		if err != nil {
			t.Errorf("%q: %v", tt.text, err)
			continue
		}
		if got := uint64(dayOfMonthMask(f, tt.length)); got != tt.want {
			t.Errorf("%q in a month of %d days = %b, want %b", tt.text, tt.length, got, tt.want)
		}
	}
}

func TestLastWeekdayOfMonth(t *testing.T) {
	// January 2015 starts on a Thursday (4) and has 31 days.
	tests := []struct {
		dow  string
		want uint64
	}{
		{"l5", bitsOf(30)},
		{"l1-5", bitsOf(26, 27, 28, 29, 30)},
		{"l7", bitsOf(25)},
		{"l0", bitsOf(25)},
		{"l07", 0}, // the library compares 7 with 0..6
		{"l5,mon", bitsOf(5, 12, 19, 26, 30)},
	}
	for _, tt := range tests {
		s, err := Parse("0 0 * * " + tt.dow + " 60")
		if tt.want == 0 {
			if err == nil {
				t.Errorf("%q: parsed, want a never-active error", tt.dow)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.dow, err)
			continue
		}
		if got := uint64(s.dirs[0].daysIn(1, 31, 4)); got != tt.want {
			t.Errorf("%q in January 2015 = %b, want %b", tt.dow, got, tt.want)
		}
	}
}
