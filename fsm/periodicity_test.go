package fsm

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestParsePeriodicity(t *testing.T) {
	tests := []struct {
		in       string
		seconds  float64
		schedule bool
		wantErr  bool
	}{
		{"3600", 3600, false, false},
		{"3600.0", 3600, false, false},
		{"1", 1, false, false},
		{"1.0", 1, false, false},
		{"1.5", 1.5, false, false},
		{"0.5", 0, false, true}, // below the floor
		{"0.999", 0, false, true},
		{"0.0000001", 0, false, true},
		{"0", 0, false, true},
		{"1.2.3", 0, false, true},
		{"", 0, false, true},
		{"-5", 0, false, true},
		{"* * * * * 300", 0, true, false},
		{"* * * * sat,sun 300 ; * * * * mon-fri 90", 0, true, false},
		{"* * * * * 1", 0, true, false},
		{"* * * * * 0.001", 0, true, true},
		{"* * * * sat,sun 300 ; * * * * mon-fri 0.5", 0, true, true},
		{"not a schedule", 0, true, true},
	}
	for _, tt := range tests {
		p, err := ParsePeriodicity(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParsePeriodicity(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ParsePeriodicity(%q) err %v is not ErrInvalid", tt.in, err)
			}
			continue
		}
		if p.IsSchedule() != tt.schedule || (!tt.schedule && p.Seconds != tt.seconds) {
			t.Errorf("ParsePeriodicity(%q) = %+v", tt.in, p)
		}
	}
}

func TestPeriodicityJSON(t *testing.T) {
	tests := []struct {
		p    Periodicity
		want string
	}{
		{Periodicity{Seconds: 3600}, `3600.0`},
		{Periodicity{Seconds: 0.25}, `0.25`},
		{Periodicity{Schedule: "* * * * * 60"}, `"* * * * * 60"`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.p)
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", tt.p, b, err, tt.want)
		}
		var back Periodicity
		if err := json.Unmarshal(b, &back); err != nil || back != tt.p {
			t.Errorf("round trip of %s = %+v, %v", b, back, err)
		}
	}
}

func TestScheduledDeadline(t *testing.T) {
	// Weekdays only: a trigger on Friday evening is due Monday at 00:00 + 60s.
	p, err := ParsePeriodicity("* * * * mon-fri 60")
	if err != nil {
		t.Fatal(err)
	}
	friday := time.Date(2024, 6, 7, 23, 59, 30, 0, time.UTC)
	got, err := p.Deadline(friday)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2024, 6, 10, 0, 1, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("deadline = %v, want %v", got, want)
	}
}

// TestPeriodicityFloorMessages: a value below the floor is refused with a message that
// says what the floor is and which value (or directive) is below it.
func TestPeriodicityFloorMessages(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"0.0000001", "periodicity must be at least 1 second, not 1e-07 seconds"},
		{"0.5", "periodicity must be at least 1 second, not 0.5 seconds"},
		{"* * * * * 0.001", `periodicity must be at least 1 second: directive "* * * * * 0.001" allows 0.001 seconds`},
		{"* * * * sat,sun 300 ; * * * * mon-fri 0.5", `periodicity must be at least 1 second: directive "* * * * mon-fri 0.5" allows 0.5 seconds`},
	} {
		_, err := ParsePeriodicity(tt.in)
		if err == nil || err.Error() != tt.want || !errors.Is(err, ErrInvalid) {
			t.Errorf("ParsePeriodicity(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
}
