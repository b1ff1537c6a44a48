package storage

import (
	"os"
	"path/filepath"
	"testing"
)

func TestResolveNodeID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		stored     string // "" = no file
		configured string
		want       string // "" = expect an error; "*" = any generated id
	}{
		{"generated and stored", "", "", "*"},
		{"configured and stored", "", "alpha", "alpha"},
		{"stored wins over nothing", "beta\n", "", "beta"},
		{"stored matches configured", "gamma\n", "gamma", "gamma"},
		{"stored differs from configured", "delta\n", "epsilon", ""},
		{"bad configured id", "", "has space", ""},
		{"bad stored id", "a/b\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, NodeIDFile)
			if tt.stored != "" {
				os.WriteFile(path, []byte(tt.stored), 0o600)
			}
			got, err := NodeID(dir, tt.configured)
			switch {
			case tt.want == "":
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			case err != nil:
				t.Fatal(err)
			case tt.want != "*" && got != tt.want:
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			again, err := NodeID(dir, "")
			if err != nil || again != got {
				t.Errorf("second resolve gave %q, %v; want the stored %q", again, err, got)
			}
		})
	}
}
