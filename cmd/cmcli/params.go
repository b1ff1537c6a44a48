package main

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The query parameters are spelled as the original cmcli spelled them (floats as
// "3600.0", booleans as "True"/"False"), so this cmcli also works against an
// original Coal Mine server, and the new server sees what it has always seen.

var numericPeriodicity = regexp.MustCompile(`^[0-9.]+$`)

// periodicityParam returns the value to send for --periodicity: a number of seconds
// becomes a float ("3600" -> "3600.0"), anything else is a schedule sent as is.
func periodicityParam(s string) (string, error) {
	if !numericPeriodicity.MatchString(s) {
		if strings.TrimSpace(s) == "" {
			return "", usageErrorf("--periodicity must be a number of seconds or a schedule")
		}
		return s, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return "", usageErrorf("--periodicity %q is not a number", s)
	}
	return pythonFloat(f), nil
}

// pythonFloat formats f as Python's str(float) does for ordinary values: always
// with a fractional part ("3600.0", "60.5").
func pythonFloat(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// pythonBool formats b as Python's str(bool).
func pythonBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// canarySelector names one canary, by exactly one of its id, name or slug.
type canarySelector struct {
	ID, Name, Slug string
}

func (s canarySelector) addTo(params url.Values) {
	switch {
	case s.ID != "":
		params.Set("id", s.ID)
	case s.Slug != "":
		params.Set("slug", s.Slug)
	case s.Name != "":
		params.Set("name", s.Name)
	}
}

// optionalString is a flag value that is sent only when given (even if empty,
// so `--description ”` clears a description).
type optionalString struct {
	Value string
	Set   bool
}

func (o optionalString) addTo(params url.Values, key string) {
	if o.Set {
		params.Set(key, o.Value)
	}
}

// optionalBool is a tri-state filter: unset, true or false.
type optionalBool struct {
	Value bool
	Set   bool
}

func (o optionalBool) addTo(params url.Values, key string) {
	if o.Set {
		params.Set(key, pythonBool(o.Value))
	}
}

// jobSettings are the create/update flags beyond the original's. Unset ones are
// not sent, so an update leaves them as they are and an original server never sees
// them unless asked to.
type jobSettings struct {
	Grace      optionalString // seconds or a Go duration
	MaxRuntime optionalString // seconds or a Go duration
	Renotify   optionalString // seconds or a Go duration
	TZ         optionalString // an IANA name; empty clears
	// Channels are the channels the canary's events go to; ChannelsSet says the flag
	// was given ("-" alone clears them).
	Channels    []string
	ChannelsSet bool
	Cron        optionalString
}

func (s jobSettings) addTo(params url.Values) error {
	for _, d := range []struct {
		flag, key string
		value     optionalString
	}{{"--grace", "grace", s.Grace}, {"--max-runtime", "max_runtime", s.MaxRuntime}, {"--renotify", "renotify", s.Renotify}} {
		if !d.value.Set {
			continue
		}
		seconds, err := secondsParam(d.flag, d.value.Value)
		if err != nil {
			return err
		}
		params.Set(d.key, seconds)
	}
	if s.TZ.Set && strings.TrimSpace(s.TZ.Value) == "" {
		// The server drops a blank parameter, as the original does; UTC is the way
		// back to the default.
		s.TZ.Value = "UTC"
	}
	s.TZ.addTo(params, "tz")
	if s.ChannelsSet {
		for _, ch := range s.Channels {
			params.Add("channel", ch)
		}
	}
	if s.Cron.Set {
		// The server refuses an empty cron too; saying so here names the way out.
		if strings.TrimSpace(s.Cron.Value) == "" {
			return usageErrorf("--cron must not be empty (--periodicity replaces a cron)")
		}
		params.Set("cron", s.Cron.Value)
	}
	return nil
}

// secondsParam reads a length of time given as seconds ("600", "90.5") or as a Go
// duration ("10m", "1h30m") and returns it in seconds, as the API takes it.
func secondsParam(flag, s string) (string, error) {
	v := strings.TrimSpace(s)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		d, derr := time.ParseDuration(v)
		if derr != nil {
			return "", usageErrorf("%s %q is neither seconds (600) nor a duration (10m, 1h30m)", flag, s)
		}
		f = d.Seconds()
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return "", usageErrorf("%s %q must not be negative", flag, s)
	}
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

type createOptions struct {
	Name        string
	Periodicity optionalString
	Description optionalString
	Emails      []string
	Paused      bool
	Settings    jobSettings
}

func createParams(o createOptions) (url.Values, error) {
	if err := checkScheduleFlags(o.Periodicity.Set, o.Settings.Cron.Set); err != nil {
		return nil, err
	}
	if !o.Periodicity.Set && !o.Settings.Cron.Set {
		return nil, usageErrorf("create needs --periodicity or --cron: when the job is expected")
	}
	params := url.Values{}
	params.Set("name", o.Name)
	if o.Periodicity.Set {
		periodicity, err := periodicityParam(o.Periodicity.Value)
		if err != nil {
			return nil, err
		}
		params.Set("periodicity", periodicity)
	}
	if err := o.Settings.addTo(params); err != nil {
		return nil, err
	}
	o.Description.addTo(params, "description")
	addEmails(params, o.Emails)
	params.Set("paused", pythonBool(o.Paused)) // the original always sent it
	return params, nil
}

// checkScheduleFlags: a canary is expected either every so often or by cron, so
// giving both is a mistake on create and on update alike.
func checkScheduleFlags(periodicity, cron bool) error {
	if periodicity && cron {
		return usageErrorf("--periodicity and --cron exclude each other: give one")
	}
	return nil
}

type updateOptions struct {
	ID, Slug    string
	Name        optionalString // the new name when --id or --slug is given
	Periodicity optionalString
	Description optionalString
	Emails      []string // a single "-" clears the addresses
	Settings    jobSettings
}

// lookupByName reports the original's rule: `update --name X` without --id or
// --slug means "the canary named X", not "rename".
func (o updateOptions) lookupByName() bool {
	return o.ID == "" && o.Slug == "" && o.Name.Set
}

// updateParams builds the update call; id is the canary found by name when
// lookupByName, and the name is then not sent.
func updateParams(o updateOptions, foundID string) (url.Values, error) {
	if err := checkScheduleFlags(o.Periodicity.Set, o.Settings.Cron.Set); err != nil {
		return nil, err
	}
	params := url.Values{}
	switch {
	case o.ID != "":
		params.Set("id", o.ID)
	case o.Slug != "":
		params.Set("slug", o.Slug)
	default:
		params.Set("id", foundID)
	}
	if !o.lookupByName() {
		o.Name.addTo(params, "name")
	}
	if o.Periodicity.Set {
		periodicity, err := periodicityParam(o.Periodicity.Value)
		if err != nil {
			return nil, err
		}
		params.Set("periodicity", periodicity)
	}
	if err := o.Settings.addTo(params); err != nil {
		return nil, err
	}
	o.Description.addTo(params, "description")
	addEmails(params, o.Emails)
	return params, nil
}

type listOptions struct {
	Verbose bool
	Paused  optionalBool
	Late    optionalBool
	Search  optionalString
}

func listParams(o listOptions) url.Values {
	params := url.Values{}
	if o.Verbose {
		params.Set("verbose", pythonBool(true))
	}
	o.Paused.addTo(params, "paused")
	o.Late.addTo(params, "late")
	o.Search.addTo(params, "search")
	return params
}

// selectorParams builds delete, get, trigger, pause and unpause calls.
func selectorParams(sel canarySelector, comment optionalString) url.Values {
	params := url.Values{}
	sel.addTo(params)
	comment.addTo(params, "comment")
	return params
}

// pauseOptions are pause's flags; Until and For end the pause by themselves.
type pauseOptions struct {
	Selector canarySelector
	Comment  optionalString
	Until    optionalString // ISO 8601 / RFC 3339
	For      optionalString // seconds or a Go duration
}

// pauseParams builds a pause call. local is the zone of an --until without one.
func pauseParams(o pauseOptions, local *time.Location) (url.Values, error) {
	params := selectorParams(o.Selector, o.Comment)
	switch {
	case o.Until.Set && o.For.Set:
		return nil, usageErrorf("--until and --for exclude each other: give one")
	case o.Until.Set:
		t, err := parseUntil(o.Until.Value, local)
		if err != nil {
			return nil, err
		}
		params.Set("until", t.UTC().Format(time.RFC3339Nano))
	case o.For.Set:
		seconds, err := secondsParam("--for", o.For.Value)
		if err != nil {
			return nil, err
		}
		if f, _ := strconv.ParseFloat(seconds, 64); f == 0 {
			return nil, usageErrorf("--for must be longer than 0")
		}
		params.Set("for", seconds)
	}
	return params, nil
}

// untilLayouts are the ISO 8601 forms --until takes, with a zone and without.
var (
	untilLayoutsZoned = []string{
		"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04Z07:00",
		"2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04Z0700",
	}
	untilLayoutsLocal = []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"}
)

// parseUntil reads an ISO 8601 time. One without a zone is a wall-clock time in
// local (the user's, at a terminal), and is sent with its offset resolved, so the
// server does not have to guess (it would take UTC).
func parseUntil(s string, local *time.Location) (time.Time, error) {
	v := strings.TrimSpace(s)
	if len(v) > 10 && v[10] == ' ' {
		v = v[:10] + "T" + v[11:] // "2026-12-24 08:00", as people write it
	}
	for _, layout := range untilLayoutsZoned {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	for _, layout := range untilLayoutsLocal {
		if t, err := time.ParseInLocation(layout, v, local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageErrorf("--until %q is not an ISO 8601 time, e.g. 2026-12-24T08:00:00Z or 2026-12-24T08:00 (local time)", s)
}

func addEmails(params url.Values, emails []string) {
	for _, e := range emails {
		params.Add("email", e)
	}
}

func describeSelector(s canarySelector) string {
	switch {
	case s.ID != "":
		return fmt.Sprintf("id %q", s.ID)
	case s.Slug != "":
		return fmt.Sprintf("slug %q", s.Slug)
	default:
		return fmt.Sprintf("name %q", s.Name)
	}
}
