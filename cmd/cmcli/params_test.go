package main

import (
	"net/url"
	"testing"
)

func TestPeriodicityParam(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"60", "60.0", false},
		{"3600", "3600.0", false},
		{"90000", "90000.0", false},
		{"60.5", "60.5", false},
		{"1.", "1.0", false},
		{"* * * * * 65", "* * * * * 65", false},
		{"# weekends ; * * * * sat,sun 300", "# weekends ; * * * * sat,sun 300", false},
		{"1.2.3", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := periodicityParam(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("periodicityParam(%q) = %q, %v; want %q (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// The queries below are those the original cmcli's tests expect it to send.
func TestParamBuilding(t *testing.T) {
	set := func(s string) optionalString { return optionalString{Value: s, Set: true} }
	must := func(v url.Values, err error) url.Values {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name string
		got  url.Values
		want string
	}{
		{"create", must(createParams(createOptions{Name: "froodle", Periodicity: set("60")})),
			"name=froodle&paused=False&periodicity=60.0"},
		{"create full", must(createParams(createOptions{Name: "X", Periodicity: set("3600"), Description: set("d"),
			Emails: []string{"a@b", "c@d"}, Paused: true})),
			"description=d&email=a%40b&email=c%40d&name=X&paused=True&periodicity=3600.0"},
		{"create empty description is sent", must(createParams(createOptions{Name: "X", Periodicity: set("1"), Description: set("")})),
			"description=&name=X&paused=False&periodicity=1.0"},
		{"update rename by id", must(updateParams(updateOptions{ID: "abcdefgh", Name: set("freedle")}, "")),
			"id=abcdefgh&name=freedle"},
		{"update by slug", must(updateParams(updateOptions{Slug: "foo", Periodicity: set("120"), Emails: []string{"-"}}, "")),
			"email=-&periodicity=120.0&slug=foo"},
		{"update looked up by name", must(updateParams(updateOptions{Name: set("froodle"), Description: set("foodesc")}, "bcdefghi")),
			"description=foodesc&id=bcdefghi"},
		{"list plain", listParams(listOptions{}), ""},
		{"list filters", listParams(listOptions{Verbose: true, Paused: optionalBool{Set: true, Value: true},
			Late: optionalBool{Set: true, Value: true}, Search: set("foo")}),
			"late=True&paused=True&search=foo&verbose=True"},
		{"list no-paused", listParams(listOptions{Paused: optionalBool{Set: true}}), "paused=False"},
		{"trigger by name", selectorParams(canarySelector{Name: "froodle"}, optionalString{}), "name=froodle"},
		{"trigger with comment", selectorParams(canarySelector{ID: "aseprogj"}, set("ok")), "comment=ok&id=aseprogj"},
		{"delete by slug", selectorParams(canarySelector{Slug: "my-canary"}, optionalString{}), "slug=my-canary"},
	}
	for _, tt := range tests {
		if got := tt.got.Encode(); got != tt.want {
			t.Errorf("%s: query = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestUpdateLookupRule(t *testing.T) {
	set := func(s string) optionalString { return optionalString{Value: s, Set: true} }
	tests := []struct {
		name string
		o    updateOptions
		want bool
	}{
		{"name alone identifies", updateOptions{Name: set("X")}, true},
		{"name with id renames", updateOptions{ID: "abcdefgh", Name: set("X")}, false},
		{"name with slug renames", updateOptions{Slug: "x", Name: set("X")}, false},
		{"id alone", updateOptions{ID: "abcdefgh"}, false},
	}
	for _, tt := range tests {
		if got := tt.o.lookupByName(); got != tt.want {
			t.Errorf("%s: lookupByName = %v, want %v", tt.name, got, tt.want)
		}
	}
}
