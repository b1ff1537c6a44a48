package faultnet

import "testing"

func TestPartitionCutsOnlyAcrossGroups(t *testing.T) {
	n := New()
	for addr, id := range map[string]string{"10.0.0.1:1": "a", "10.0.0.2:1": "b", "10.0.0.3:1": "c", "10.0.0.4:1": "d"} {
		n.register(addr, id)
	}
	n.Partition([]string{"a", "b"}, []string{"c"})
	tests := []struct {
		from, to string
		cut      bool
	}{
		{"a", "10.0.0.2:1", false}, // same group
		{"a", "10.0.0.3:1", true},
		{"c", "10.0.0.1:1", true},  // both directions
		{"c", "10.0.0.4:1", false}, // d is in no group
		{"a", "10.9.9.9:1", false}, // unknown address
	}
	for _, tt := range tests {
		if got := n.Cut(tt.from, tt.to); got != tt.cut {
			t.Errorf("Cut(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.cut)
		}
	}
	n.Heal()
	if n.Cut("a", "10.0.0.3:1") {
		t.Error("still cut after Heal")
	}
}
