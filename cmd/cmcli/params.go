package main

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
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

type createOptions struct {
	Name        string
	Periodicity string
	Description optionalString
	Emails      []string
	Paused      bool
}

func createParams(o createOptions) (url.Values, error) {
	periodicity, err := periodicityParam(o.Periodicity)
	if err != nil {
		return nil, err
	}
	params := url.Values{}
	params.Set("name", o.Name)
	params.Set("periodicity", periodicity)
	o.Description.addTo(params, "description")
	addEmails(params, o.Emails)
	params.Set("paused", pythonBool(o.Paused)) // the original always sent it
	return params, nil
}

type updateOptions struct {
	ID, Slug    string
	Name        optionalString // the new name when --id or --slug is given
	Periodicity optionalString
	Description optionalString
	Emails      []string // a single "-" clears the addresses
}

// lookupByName reports the original's rule: `update --name X` without --id or
// --slug means "the canary named X", not "rename".
func (o updateOptions) lookupByName() bool {
	return o.ID == "" && o.Slug == "" && o.Name.Set
}

// updateParams builds the update call; id is the canary found by name when
// lookupByName, and the name is then not sent.
func updateParams(o updateOptions, foundID string) (url.Values, error) {
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
