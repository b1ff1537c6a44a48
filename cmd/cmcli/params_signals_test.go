package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSecondsParam(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  string
	}{
		{"600", "600", ""},
		{" 600 ", "600", ""},
		{"90.5", "90.5", ""},
		{"0", "0", ""},
		{"10m", "600", ""},
		{"1h30m", "5400", ""},
		{"1.5s", "1.5", ""},
		{"250ms", "0.25", ""},
		{"0s", "0", ""},
		{"-5", "", "must not be negative"},
		{"-1m", "", "must not be negative"},
		{"NaN", "", "must not be negative"},
		{"1d", "", "neither seconds"},
		{"", "", "neither seconds"},
		{"ten", "", "neither seconds"},
	}
	for _, tt := range tests {
		got, err := secondsParam("--grace", tt.in)
		if tt.wantErr == "" && (err != nil || got != tt.want) {
			t.Errorf("secondsParam(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, new(usageError))) {
			t.Errorf("secondsParam(%q) = %q, %v; want a usage error with %q", tt.in, got, err, tt.wantErr)
		}
	}
}

func TestParseUntil(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*3600)
	tests := []struct {
		in   string
		want string // UTC, RFC 3339
	}{
		{"2026-12-24T08:00:00Z", "2026-12-24T08:00:00Z"},
		{"2026-12-24T08:00:00+01:00", "2026-12-24T07:00:00Z"},
		{"2026-12-24T08:00:00.5-02:00", "2026-12-24T10:00:00.5Z"},
		{"2026-12-24T08:00+0100", "2026-12-24T07:00:00Z"},
		{"2026-12-24 08:00:00Z", "2026-12-24T08:00:00Z"},
		// Without a zone: the local (here Tokyo) wall clock.
		{"2026-12-24T09:00:00", "2026-12-24T00:00:00Z"},
		{"2026-12-24T09:30", "2026-12-24T00:30:00Z"},
		{"2026-12-24 09:30", "2026-12-24T00:30:00Z"},
		{"2026-12-24", "2026-12-23T15:00:00Z"},
	}
	for _, tt := range tests {
		got, err := parseUntil(tt.in, tokyo)
		if err != nil || got.UTC().Format(time.RFC3339Nano) != tt.want {
			t.Errorf("parseUntil(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "tomorrow", "24/12/2026", "2026-13-01", "2026-12-24T25:00:00Z"} {
		if _, err := parseUntil(bad, tokyo); err == nil || !errors.As(err, new(usageError)) {
			t.Errorf("parseUntil(%q): %v, want a usage error", bad, err)
		}
	}
}

func TestSignalParamBuilding(t *testing.T) {
	set := func(s string) optionalString { return optionalString{Value: s, Set: true} }
	tests := []struct {
		name    string
		build   func() (string, error)
		want    string
		wantErr string
	}{
		{"create with cron, tz and grace as seconds", func() (string, error) {
			v, err := createParams(createOptions{Name: "n", Settings: jobSettings{Cron: set("0 2 * * *"), TZ: set("Asia/Tokyo"), Grace: set("600")}})
			return v.Encode(), err
		}, "cron=0+2+%2A+%2A+%2A&grace=600&name=n&paused=False&tz=Asia%2FTokyo", ""},
		{"create with durations", func() (string, error) {
			v, err := createParams(createOptions{Name: "n", Periodicity: set("3600"), Settings: jobSettings{Grace: set("10m"), MaxRuntime: set("1h30m")}})
			return v.Encode(), err
		}, "grace=600&max_runtime=5400&name=n&paused=False&periodicity=3600.0", ""},
		{"create needs a periodicity or a cron", func() (string, error) {
			_, err := createParams(createOptions{Name: "n"})
			return "", err
		}, "", "create needs --periodicity or --cron"},
		{"create with both", func() (string, error) {
			_, err := createParams(createOptions{Name: "n", Periodicity: set("60"), Settings: jobSettings{Cron: set("@daily")}})
			return "", err
		}, "", "exclude each other"},
		{"create with a bad grace", func() (string, error) {
			_, err := createParams(createOptions{Name: "n", Periodicity: set("60"), Settings: jobSettings{Grace: set("soon")}})
			return "", err
		}, "", `--grace "soon"`},
		{"create with an empty cron", func() (string, error) {
			_, err := createParams(createOptions{Name: "n", Settings: jobSettings{Cron: set(" ")}})
			return "", err
		}, "", "--cron must not be empty"},
		{"update clears grace, max runtime and tz", func() (string, error) {
			v, err := updateParams(updateOptions{ID: "abcdefgh", Settings: jobSettings{Grace: set("0"), MaxRuntime: set("0s"), TZ: set("")}}, "")
			return v.Encode(), err
		}, "grace=0&id=abcdefgh&max_runtime=0&tz=UTC", ""},
		{"update to cron", func() (string, error) {
			v, err := updateParams(updateOptions{Slug: "s", Settings: jobSettings{Cron: set("@hourly")}}, "")
			return v.Encode(), err
		}, "cron=%40hourly&slug=s", ""},
		{"update with cron and periodicity", func() (string, error) {
			_, err := updateParams(updateOptions{Slug: "s", Periodicity: set("60"), Settings: jobSettings{Cron: set("@hourly")}}, "")
			return "", err
		}, "", "--periodicity and --cron exclude each other"},
		{"pause until", func() (string, error) {
			v, err := pauseParams(pauseOptions{Selector: canarySelector{ID: "abcdefgh"}, Until: set("2026-12-24T08:00:00+01:00")}, time.UTC)
			return v.Encode(), err
		}, "id=abcdefgh&until=2026-12-24T07%3A00%3A00Z", ""},
		{"pause for a duration", func() (string, error) {
			v, err := pauseParams(pauseOptions{Selector: canarySelector{Slug: "s"}, Comment: set("c"), For: set("2h")}, time.UTC)
			return v.Encode(), err
		}, "comment=c&for=7200&slug=s", ""},
		{"pause for seconds", func() (string, error) {
			v, err := pauseParams(pauseOptions{Selector: canarySelector{Slug: "s"}, For: set("2")}, time.UTC)
			return v.Encode(), err
		}, "for=2&slug=s", ""},
		{"pause plain", func() (string, error) {
			v, err := pauseParams(pauseOptions{Selector: canarySelector{Name: "n"}}, time.UTC)
			return v.Encode(), err
		}, "name=n", ""},
		{"pause for zero", func() (string, error) {
			_, err := pauseParams(pauseOptions{Selector: canarySelector{Slug: "s"}, For: set("0s")}, time.UTC)
			return "", err
		}, "", "--for must be longer than 0"},
		{"pause until and for", func() (string, error) {
			_, err := pauseParams(pauseOptions{Selector: canarySelector{Slug: "s"}, For: set("1m"), Until: set("2026-12-24")}, time.UTC)
			return "", err
		}, "", "--until and --for exclude each other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.build()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, new(usageError)) {
					t.Fatalf("error %v, want a usage error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("query %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestRenotifyAndChannelParams(t *testing.T) {
	set := func(s string) optionalString { return optionalString{Value: s, Set: true} }
	v, err := updateParams(updateOptions{ID: "abcdefgh", Settings: jobSettings{Renotify: set("1h"), Channels: []string{"ops", "pager"}, ChannelsSet: true}}, "")
	if err != nil || v.Encode() != "channel=ops&channel=pager&id=abcdefgh&renotify=3600" {
		t.Fatalf("%q %v", v.Encode(), err)
	}
	v, err = updateParams(updateOptions{ID: "abcdefgh", Settings: jobSettings{Channels: []string{"-"}, ChannelsSet: true}}, "")
	if err != nil || v.Encode() != "channel=-&id=abcdefgh" {
		t.Fatalf("%q %v", v.Encode(), err)
	}
}
