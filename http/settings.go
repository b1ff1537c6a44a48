package http

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
)

// settingNames are the job settings create and update take beyond the original's.
var settingNames = []string{"grace", "max_runtime", "renotify", "tz", "cron", "channel"}

// settingsOf reads grace, max_runtime, tz and cron. An empty cron is an error: a
// periodicity replaces a cron.
func settingsOf(p *params) (fsm.Settings, error) {
	var st fsm.Settings
	for _, f := range []struct {
		name  string
		field **time.Duration
	}{{"grace", &st.Grace}, {"max_runtime", &st.MaxRuntime}, {"renotify", &st.Renotify}} {
		name, field := f.name, f.field
		v, ok := p.last(name)
		if !ok {
			continue
		}
		d, err := parseSeconds(name, v)
		if err != nil {
			return st, err
		}
		*field = &d
	}
	if chans := p.all("channel"); len(chans) > 0 {
		// channel=- alone clears them, as email=- does the addresses.
		if len(chans) == 1 && chans[0] == "-" {
			chans = []string{}
		}
		st.Channels = &chans
	}
	if v, ok := p.last("tz"); ok {
		v = strings.TrimSpace(v)
		st.TZ = &v
	}
	if v, ok := p.last("cron"); ok {
		v = strings.Join(strings.Fields(v), " ") // one space between fields, as shown
		if v == "" {
			return st, badRequest("cron must not be empty (give a periodicity instead)")
		}
		st.Cron = &v
	}
	return st, nil
}

// plainSeconds is a number of seconds as a person writes one: 600, 1.5.
var plainSeconds = regexp.MustCompile(`^[0-9]+(\.[0-9]*)?$`)

// parseSeconds reads a number of seconds, 0 to fsm.MaxGraceSeconds.
func parseSeconds(name, v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !plainSeconds.MatchString(v) || f > fsm.MaxGraceSeconds {
		return 0, badRequest(name + " must be a number of seconds from 0 to " + strconv.Itoa(fsm.MaxGraceSeconds))
	}
	return time.Duration(math.Round(f*1e6)) * time.Microsecond, nil
}

// pauseUntil reads until= (an ISO 8601 time) or for= (seconds from now): the end of a
// timed pause; zero for a pause without end.
func (s *server) pauseUntil(p *params) (time.Time, error) {
	until, hasUntil := p.last("until")
	span, hasFor := p.last("for")
	switch {
	case hasUntil && hasFor:
		return time.Time{}, badRequest("give until or for, not both")
	case hasUntil:
		t, err := parseTimestamp(until)
		if err != nil {
			return time.Time{}, badRequest("until must be an ISO 8601 time, e.g. 2026-12-24T08:00:00Z")
		}
		return t.UTC(), nil
	case hasFor:
		d, err := parseSeconds("for", span)
		if err != nil {
			return time.Time{}, err
		}
		if d <= 0 {
			return time.Time{}, badRequest("for must be a positive number of seconds")
		}
		return s.now().UTC().Add(d), nil
	}
	return time.Time{}, nil
}
