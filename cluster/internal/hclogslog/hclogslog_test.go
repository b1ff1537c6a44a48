package hclogslog

import (
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

func TestParseBracketLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line      string
		wantLevel slog.Level
		wantMsg   string
	}{
		{"[WARN] memberlist: Was able to connect", slog.LevelWarn, "memberlist: Was able to connect"},
		{"[ERR] memberlist: Failed", slog.LevelError, "memberlist: Failed"},
		{"[DEBUG] memberlist: Stream connection", slog.LevelDebug, "memberlist: Stream connection"},
		{"[INFO] memberlist: Suspect", slog.LevelDebug, "memberlist: Suspect"},
		{"no level at all", slog.LevelDebug, "no level at all"},
	}
	for _, tt := range tests {
		level, msg := parseBracketLevel(tt.line)
		if level != tt.wantLevel || msg != tt.wantMsg {
			t.Errorf("%q: got (%v, %q)", tt.line, level, msg)
		}
	}
}

// TestStrangersPacketsDoNotFloodTheLog: memberlist logs a line for every packet a
// stranger sends to the gossip port; a thousand of them make one line per kind of
// complaint every 10 s, which says how many were left out. Lines about no remote peer
// all pass.
func TestStrangersPacketsDoNotFloodTheLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf testkit.Buffer
		std := NewStdLogger(slog.New(slog.NewTextHandler(&buf, nil)), "memberlist")
		for i := range 1000 {
			std.Printf("[ERR] memberlist: failed to receive: no installed keys could decrypt the message from=10.0.0.%d:7946", i%250)
			std.Printf("[ERR] memberlist: discarding packet with unacceptable label \"%d\": from=10.0.0.9:7946", i)
		}
		std.Printf("[WARN] memberlist: Refuting a suspect message")
		std.Printf("[WARN] memberlist: Refuting a suspect message")
		time.Sleep(remoteLineEvery)
		std.Printf("[ERR] memberlist: failed to receive: no installed keys could decrypt the message from=10.0.0.1:7946")

		out := buf.String()
		for _, tt := range []struct {
			text string
			want int
		}{
			{"no installed keys could decrypt", 2},
			{"unacceptable label", 1},
			{"Refuting a suspect message", 2},
			{"suppressed_since_last=999", 1},
		} {
			if got := strings.Count(out, tt.text); got != tt.want {
				t.Errorf("%d lines with %q, want %d:\n%s", got, tt.text, tt.want, out)
			}
		}
	})
}
