package ui

import (
	"strings"
	"testing"
	"time"
)

func TestSessions(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	s := newSessions("the-key")
	rw, ro := s.issue(readWrite, now), s.issue(readOnly, now)
	tests := []struct {
		name  string
		value string
		at    time.Time
		want  role
		ok    bool
	}{
		{"read-write", rw, now, readWrite, true},
		{"read-only", ro, now.Add(time.Hour), readOnly, true},
		{"expired", rw, now.Add(sessionTTL), "", false},
		{"read-only made read-write", strings.Replace(ro, "ro|", "rw|", 1), now, "", false},
		{"signed with another key", newSessions("other-key").issue(readWrite, now), now, "", false},
		{"later expiry", strings.Replace(rw, "|", "|9", 1), now, "", false},
		{"no signature", "rw|99999999999", now, "", false},
		{"empty", "", now, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := s.verify(tt.value, tt.at)
			if got != tt.want || ok != tt.ok {
				t.Errorf("verify = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	if strings.Contains(rw, "the-key") {
		t.Error("the session holds the key")
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/ui/canary/abcdefgh":              "/ui/canary/abcdefgh",
		"/ui/?q=x":                         "/ui/?q=x",
		"https://evil.example":             "/ui/",
		"//evil.example/ui/":               "/ui/",
		"/ui/\\evil":                       "/ui/",
		"/coal-mine/v1/canary/delete?id=x": "/ui/",
		"":                                 "/ui/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTimelineKinds(t *testing.T) {
	for comment, want := range map[string]string{
		"Triggered": "ok", "Triggered (nightly)": "ok", "Started": "start",
		"Failed (exit status 3)": "bad", "Notification to ops failed (late): 500": "bad", "Deadline moved: monitor unavailable": "other", "Paused": "other", "Canary created": "other",
	} {
		if got := kindOf(comment); got != want {
			t.Errorf("kindOf(%q) = %q, want %q", comment, got, want)
		}
	}
}
