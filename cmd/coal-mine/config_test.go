package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeINI(t *testing.T, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, configName)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigDefaultsNeedNothing(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg, err := loadConfig(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 8080 || cfg.DataDir != "./coal-mine-data" || cfg.BootstrapExpect != 1 || cfg.AuthKey != "" {
		t.Fatalf("defaults = %+v", cfg)
	}
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeINI(t, dir, `
[wsgi]
port = 9001
auth_key = from-ini

[email]
sender = ini@example.org
host = smtp.ini

[logging]
rotate = yes
max_size = 3000000
`)
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		port     int
		authKey  string
		smtpHost string
	}{
		{"ini only", nil, nil, 9001, "from-ini", "smtp.ini"},
		{"env beats ini", nil, map[string]string{"WSGI_PORT": "9002", "WSGI_AUTH_KEY": "from-env", "SMTP_HOST": "smtp.env"}, 9002, "from-env", "smtp.env"},
		{"flag beats env", []string{"--port", "9003", "--auth-key=from-flag"}, map[string]string{"WSGI_PORT": "9002", "WSGI_AUTH_KEY": "from-env"}, 9003, "from-flag", "smtp.ini"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(tt.args, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Port != tt.port || cfg.AuthKey != tt.authKey || cfg.SMTPHost != tt.smtpHost {
				t.Fatalf("port %d key %q smtp %q; want %d %q %q", cfg.Port, cfg.AuthKey, cfg.SMTPHost, tt.port, tt.authKey, tt.smtpHost)
			}
			if cfg.EmailSender != "ini@example.org" || !cfg.LogRotate || cfg.LogMaxSize != 3000000 {
				t.Fatalf("ini values lost: %+v", cfg)
			}
		})
	}
}

func TestConfigMongoSectionWarnsOnly(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeINI(t, dir, "[mongodb]\nhosts = localhost\ndatabase = coal_mine\n\n[email]\nsender = a@b.org\n")
	cfg, err := loadConfig(nil, env(map[string]string{"MONGODB_URI": "mongodb://x"}))
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(cfg.Warnings, "\n")
	if !strings.Contains(joined, "[mongodb] section") || !strings.Contains(joined, "MONGODB_URI") {
		t.Fatalf("warnings = %q", cfg.Warnings)
	}
}

func TestConfigClusterSettings(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg, err := loadConfig([]string{
		"--node-id", "n1", "--gossip-addr", "0.0.0.0:8301", "--join", "a:8301, b:8301",
		"--bootstrap-expect", "3", "--dead-server-cleanup", "30m",
	}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NodeID != "n1" || len(cfg.Join) != 2 || cfg.Join[1] != "b:8301" || cfg.BootstrapExpect != 3 || cfg.DeadServerCleanup != 30*time.Minute {
		t.Fatalf("cluster settings = %+v", cfg)
	}
}

func TestConfigRejects(t *testing.T) {
	t.Chdir(t.TempDir())
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"port not a number", []string{"--port", "http"}, nil, "whole number"},
		{"port out of range", nil, map[string]string{"WSGI_PORT": "70000"}, "out of range"},
		{"cluster without gossip", []string{"--bootstrap-expect", "3"}, nil, "gossip"},
		{"username without password", nil, map[string]string{"SMTP_USERNAME": "u"}, "together"},
		{"stray argument", []string{"serve"}, nil, "unexpected"},
		{"missing config file", []string{"--config", "/nonexistent/coal-mine.ini"}, nil, "config file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(tt.args, env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestMegabytes(t *testing.T) {
	for in, want := range map[int64]int{0: 1, 1048576: 1, 1048577: 2, 10 << 20: 10} {
		if got := megabytes(in); got != want {
			t.Errorf("megabytes(%d) = %d, want %d", in, got, want)
		}
	}
}
