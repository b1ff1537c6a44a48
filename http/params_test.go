package http

import (
	"reflect"
	"testing"
	"time"
)

func TestParseQueryLikeParseQS(t *testing.T) {
	tests := []struct {
		raw   string
		names []string
		want  map[string][]string
	}{
		{"", nil, map[string][]string{}},
		{"a=1&b=2&a=3", []string{"a", "b"}, map[string][]string{"a": {"1", "3"}, "b": {"2"}}},
		{"a=&b&&c=x", []string{"c"}, map[string][]string{"c": {"x"}}},
		{"n=a+b%20c", []string{"n"}, map[string][]string{"n": {"a b c"}}},
		{"n=%zz%4", []string{"n"}, map[string][]string{"n": {"%zz%4"}}},
		{"n=%ff", []string{"n"}, map[string][]string{"n": {"\uFFFD"}}},
		{"n=%C3%A9t%C3%A9", []string{"n"}, map[string][]string{"n": {"été"}}},
		{"p=*+*+*+*+*+60%3B+*+*+*+*+*+90", []string{"p"}, map[string][]string{"p": {"* * * * * 60; * * * * * 90"}}},
		{"p=a;b", []string{"p"}, map[string][]string{"p": {"a;b"}}},
		{"=x", []string{""}, map[string][]string{"": {"x"}}},
		{"a=b=c", []string{"a"}, map[string][]string{"a": {"b=c"}}},
	}
	for _, tt := range tests {
		p := parseQuery(tt.raw)
		if !reflect.DeepEqual(p.values, tt.want) || !reflect.DeepEqual(p.names, tt.names) {
			t.Errorf("parseQuery(%q) = %v %v, want %v %v", tt.raw, p.names, p.values, tt.names, tt.want)
		}
	}
}

func TestParamsLastFirstRemove(t *testing.T) {
	p := parseQuery("auth_key=k1&name=a&auth_key=k2&name=b")
	if v, _ := p.first("auth_key"); v != "k1" {
		t.Errorf("first = %q", v)
	}
	if v, _ := p.last("name"); v != "b" {
		t.Errorf("last = %q", v)
	}
	p.remove("auth_key")
	if p.has("auth_key") || !reflect.DeepEqual(p.names, []string{"name"}) {
		t.Errorf("after remove: %v", p.names)
	}
	if err := p.allow("name"); err != nil {
		t.Error(err)
	}
}

func TestISOTime(t *testing.T) {
	for _, tt := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2015, 3, 19, 1, 8, 44, 885182000, time.UTC), "2015-03-19T01:08:44.885182+00:00"},
		{time.Date(2015, 3, 19, 1, 8, 44, 0, time.UTC), "2015-03-19T01:08:44+00:00"},
		{time.Date(2015, 3, 19, 1, 8, 44, 1000, time.UTC), "2015-03-19T01:08:44.000001+00:00"},
		{time.Date(2015, 3, 19, 1, 8, 44, 999, time.UTC), "2015-03-19T01:08:44+00:00"},
		{time.Date(2015, 3, 19, 3, 8, 44, 500000000, time.FixedZone("x", 2*3600)), "2015-03-19T01:08:44.500000+00:00"},
	} {
		if got := isoTime(tt.in); got != tt.want {
			t.Errorf("isoTime(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	want := time.Date(2015, 3, 19, 1, 8, 44, 885182000, time.UTC)
	for _, in := range []string{
		"2015-03-19T01:08:44.885182+00:00", "2015-03-19T01:08:44.885182", "2015-03-19 01:08:44.885182",
		"2015-03-19T01:08:44.885182Z", "2015-03-19T03:08:44.885182+02:00", " 2015-03-19T01:08:44.885182 ",
	} {
		got, err := parseTimestamp(in)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseTimestamp(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "yesterday", "2015-03-19", "2015-13-19T01:08:44"} {
		if _, err := parseTimestamp(bad); err == nil {
			t.Errorf("parseTimestamp(%q) accepted", bad)
		}
	}
}

func TestRedactQuery(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "",
		"auth_key=x":                "auth_key=REDACTED",
		"a=1&auth_key=x&b=2":        "a=1&auth_key=REDACTED&b=2",
		"auth%5fkey=x&auth_key":     "auth%5fkey=REDACTED&auth_key=REDACTED",
		"name=auth_key%3Dx&m=hello": "name=auth_key%3Dx&m=hello",
	} {
		if got := redactQuery(in); got != want {
			t.Errorf("redactQuery(%q) = %q, want %q", in, got, want)
		}
	}
}
