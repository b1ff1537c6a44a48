package main

import "testing"

func TestGCPercent(t *testing.T) {
	tests := []struct {
		live uint64
		want int
	}{
		{0, 100},
		{20 << 20, 100},  // a few thousand canaries: Go's default
		{512 << 20, 100}, // the default's headroom is exactly the cap
		{600 << 20, 85},  // a million canaries: goal 600 + 512 MB
		{1 << 30, 50},
		{2 << 30, 25},
		{8 << 30, gcMinPercent}, // never collect all the time
	}
	for _, tt := range tests {
		got := gcPercent(tt.live)
		if got != tt.want {
			t.Errorf("gcPercent(%d MiB) = %d, want %d", tt.live>>20, got, tt.want)
		}
		if goal := tt.live + tt.live*uint64(got)/100; tt.live > gcHeadroom && tt.live < 2<<30 && goal > tt.live+gcHeadroom {
			t.Errorf("%d MiB live: heap goal %d MiB exceeds live + headroom", tt.live>>20, goal>>20)
		}
	}
}
