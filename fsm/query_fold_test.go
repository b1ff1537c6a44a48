package fsm

import "testing"

func TestContainsFold(t *testing.T) {
	tests := []struct {
		s, sub string
		want   bool
	}{
		{"Nightly Backup", "backup", true},
		{"Nightly Backup", "NIGHTLY b", true},
		{"Nightly Backup", "", true},
		{"Nightly Backup", "backups", false},
		{"ops@example.com", "EXAMPLE.COM", true},
		{"Sauvegarde ÉTÉ", "été", true},
		{"Straße", "STRASSE", false}, // lower-casing, not full case folding
		{"ab", "abc", false},
	}
	for _, tt := range tests {
		if got := containsFold(tt.s, tt.sub); got != tt.want {
			t.Errorf("containsFold(%q, %q) = %v, want %v", tt.s, tt.sub, got, tt.want)
		}
	}
}
