package ui

import (
	"testing"
	"time"
)

func TestPauseEnd(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-12-24T18:00:00Z", time.Date(2026, 12, 24, 18, 0, 0, 0, time.UTC), true},
		{"2026-12-24T18:00:00+01:00", time.Date(2026, 12, 24, 17, 0, 0, 0, time.UTC), true},
		{"2026-12-24T18:00", time.Date(2026, 12, 24, 18, 0, 0, 0, time.UTC), true}, // no script: UTC
		{"tomorrow", time.Time{}, false},
		{"2026-13-01T00:00", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := pauseEnd(tt.in)
		if (err == nil) != tt.ok || (tt.ok && !got.Equal(tt.want)) {
			t.Errorf("pauseEnd(%q) = %v, %v; want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
