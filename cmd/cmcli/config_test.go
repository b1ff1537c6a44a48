package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigPathPrecedence(t *testing.T) {
	tests := []struct {
		name string
		flag string
		env  map[string]string
		want string
	}{
		{"home", "", map[string]string{"HOME": "/home/ann"}, "/home/ann/.coal-mine.ini"},
		{"env overrides home", "", map[string]string{"HOME": "/home/ann", configEnvVar: "/etc/cm.ini"}, "/etc/cm.ini"},
		{"flag overrides env", "/tmp/x.ini", map[string]string{"HOME": "/home/ann", configEnvVar: "/etc/cm.ini"}, "/tmp/x.ini"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := configPath(tt.flag, func(k string) string { return tt.env[k] })
			if err != nil || got != tt.want {
				t.Fatalf("configPath = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		content string // "" means no file
		want    Config
		wantErr string
	}{
		{"missing file", "", Config{Host: "localhost"}, ""},
		{"other section only", "[wsgi]\nport = 1\n", Config{Host: "localhost"}, ""},
		{"written by the original", "[coal-mine]\nhost = cm.example.com\nport = 8080\nauth-key = a#b;c\n\n",
			Config{Host: "cm.example.com", Port: 8080, AuthKey: "a#b;c"}, ""},
		{"url host", "[coal-mine]\nhost = https://cm.example.com\n", Config{Host: "https://cm.example.com"}, ""},
		{"bad port", "[coal-mine]\nport = http\n", Config{}, "not a port number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cm.ini")
			if tt.content != "" {
				if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := LoadConfig(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadConfig error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("LoadConfig = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestSaveConfigSequence replays the original cmcli's configure test: each step
// changes some settings and keeps the others.
func TestSaveConfigSequence(t *testing.T) {
	str := func(s string) *string { return &s }
	num := func(n int) *int { return &n }
	path := filepath.Join(t.TempDir(), "cm.ini")
	// An existing file, readable by all, with a section of someone else's.
	if err := os.WriteFile(path, []byte("[other]\nkeep = me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name   string
		change ConfigChange
		want   Config
	}{
		{"host and key", ConfigChange{Host: str("hellohost"), AuthKey: str("arglebargle")},
			Config{Host: "hellohost", AuthKey: "arglebargle"}},
		{"port added", ConfigChange{Port: num(12345)}, Config{Host: "hellohost", Port: 12345, AuthKey: "arglebargle"}},
		{"no auth key", ConfigChange{NoAuthKey: true}, Config{Host: "hellohost", Port: 12345}},
		{"host changed", ConfigChange{Host: str("hellohost2")}, Config{Host: "hellohost2", Port: 12345}},
		{"port removed", ConfigChange{Port: num(0)}, Config{Host: "hellohost2"}},
		{"nothing given", ConfigChange{}, Config{Host: "hellohost2"}},
	}
	for _, step := range steps {
		got, err := SaveConfig(path, step.change)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		reread, err := LoadConfig(path)
		if err != nil {
			t.Fatalf("%s: reread: %v", step.name, err)
		}
		if got != step.want || reread != step.want {
			t.Fatalf("%s: saved %+v, reread %+v; want %+v", step.name, got, reread, step.want)
		}
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("file mode = %o, want 600", mode)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "keep") || !strings.Contains(string(data), "[coal-mine]") {
		t.Errorf("file lost a section:\n%s", data)
	}
}

func TestSaveConfigCreatesPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.ini")
	key := "s3cret"
	if _, err := SaveConfig(path, ConfigChange{AuthKey: &key}); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("file mode = %o, want 600", mode)
	}
	got, _ := LoadConfig(path)
	if want := (Config{Host: "localhost", AuthKey: key}); got != want {
		t.Errorf("config = %+v, want %+v (the host is always written)", got, want)
	}
}

func TestServerURL(t *testing.T) {
	tests := []struct {
		host    string
		port    int
		want    string
		wantErr bool
	}{
		{"localhost", 0, "http://localhost", false},
		{"hellohost", 8080, "http://hellohost:8080", false},
		{"https://cm.example.com", 0, "https://cm.example.com", false},
		{"https://cm.example.com", 8443, "https://cm.example.com:8443", false},
		{"HTTPS://cm.example.com:9000/", 0, "https://cm.example.com:9000", false},
		{"http://cm.example.com:9000", 8080, "http://cm.example.com:8080", false},
		{"https://proxy.example.com/coal/", 0, "https://proxy.example.com/coal", false},
		{"::1", 8080, "", true},
		{"[::1]", 8080, "http://[::1]:8080", false},
		{"", 0, "", true},
		{"ftp://x", 0, "", true},
		{"http://", 0, "", true},
	}
	for _, tt := range tests {
		got, err := serverURL(tt.host, tt.port)
		if tt.wantErr {
			if err == nil {
				t.Errorf("serverURL(%q, %d) = %v, want an error", tt.host, tt.port, got)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("serverURL(%q, %d) = %v, %v; want %s", tt.host, tt.port, got, err, tt.want)
		}
	}
}
