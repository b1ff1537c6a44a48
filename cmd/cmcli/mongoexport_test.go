package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// mongoexportSample is what `mongoexport --collection canaries` writes for three
// canaries of an original Coal Mine: relaxed dates, canonical dates (with canonical
// numbers), and plain ISO strings; _id and notify are present and ignored.
const mongoexportSample = `{"_id":{"$oid":"550a2a4c2a3b1c0c8e5d1a01"},"id":"fbkvlsby","name":"My First Canary","slug":"my-first-canary","description":"","periodicity":3600,"emails":["a@example.com","b@example.com"],"late":false,"paused":false,"notify":false,"deadline":{"$date":"2015-03-19T02:11:56.408Z"},"history":[[{"$date":"2015-03-19T01:11:56.408Z"},"Triggered (long form trigger url)"],[{"$date":"2015-03-19T01:08:44.885Z"},"Canary created"]]}
{"_id":{"$oid":"550a2a4c2a3b1c0c8e5d1a02"},"id":"qwertyui","name":"Late One","slug":"late-one","description":"nightly","periodicity":{"$numberDouble":"90.5"},"emails":[],"late":true,"paused":false,"notify":true,"deadline":{"$date":{"$numberLong":"1426727324885"}},"history":[[{"$date":{"$numberLong":"1426727234885"}},"Canary created"]]}

{"_id":{"$oid":"550a2a4c2a3b1c0c8e5d1a03"},"id":"zxcvbnma","name":"Paused Schedule","slug":"paused-schedule","description":null,"periodicity":"* * * * sat,sun 300; * * * * mon-fri 90","emails":["c@example.com"],"late":false,"paused":true,"history":[["2015-03-20T00:00:00","Paused"],["2015-03-19T01:08:44.885000","Canary created"]]}
`

func TestParseMongoExportFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "canaries.json")
	if err := os.WriteFile(path, []byte(mongoexportSample), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := parseMongoExport(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []importCanary{
		{ID: "fbkvlsby", Name: "My First Canary", Periodicity: json.RawMessage("3600.0"),
			Emails: []string{"a@example.com", "b@example.com"}, Deadline: "2015-03-19T02:11:56.408000+00:00",
			History: [][2]string{
				{"2015-03-19T01:11:56.408000+00:00", "Triggered (long form trigger url)"},
				{"2015-03-19T01:08:44.885000+00:00", "Canary created"}}},
		{ID: "qwertyui", Name: "Late One", Description: "nightly", Periodicity: json.RawMessage("90.5"),
			Emails: []string{}, Late: true, Deadline: "2015-03-19T01:08:44.885000+00:00",
			History: [][2]string{{"2015-03-19T01:07:14.885000+00:00", "Canary created"}}},
		{ID: "zxcvbnma", Name: "Paused Schedule", Periodicity: json.RawMessage(`"* * * * sat,sun 300; * * * * mon-fri 90"`),
			Emails: []string{"c@example.com"}, Paused: true,
			History: [][2]string{{"2015-03-20T00:00:00+00:00", "Paused"}, {"2015-03-19T01:08:44.885000+00:00", "Canary created"}}},
	}
	if !reflect.DeepEqual(got, want) {
		gotJSON, _ := json.MarshalIndent(got, "", " ")
		t.Fatalf("parsed:\n%s", gotJSON)
	}
	// The request body carries no slug (the server derives it) and no deadline
	// for the paused canary.
	body, _ := json.Marshal(got[2])
	if strings.Contains(string(body), "slug") || strings.Contains(string(body), "deadline") {
		t.Errorf("request JSON = %s", body)
	}
}

func TestParseMongoExportArray(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(mongoexportSample), "\n")
	var docs []string
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			docs = append(docs, l)
		}
	}
	got, err := parseMongoExport(strings.NewReader("[" + strings.Join(docs, ",\n") + "]"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].ID != "qwertyui" {
		t.Fatalf("parsed %+v", got)
	}
}

func TestParseMongoDate(t *testing.T) {
	want := time.Date(2015, 3, 19, 1, 8, 44, 885e6, time.UTC)
	tests := []struct {
		name   string
		raw    string
		want   time.Time
		wantOK bool
		err    error
	}{
		{"relaxed", `{"$date":"2015-03-19T01:08:44.885Z"}`, want, true, nil},
		{"relaxed with offset", `{"$date":"2015-03-19T02:08:44.885+01:00"}`, want, true, nil},
		{"relaxed compact offset", `{"$date":"2015-03-19T01:08:44.885+0000"}`, want, true, nil},
		{"canonical", `{"$date":{"$numberLong":"1426727324885"}}`, want, true, nil},
		{"legacy number", `{"$date":1426727324885}`, want, true, nil},
		{"plain ISO", `"2015-03-19T01:08:44.885"`, want, true, nil},
		{"plain ISO with zone", `"2015-03-19T01:08:44.885+00:00"`, want, true, nil},
		{"null", `null`, time.Time{}, false, nil},
		{"absent", ``, time.Time{}, false, nil},
		{"garbage string", `"yesterday"`, time.Time{}, false, errBadDate},
		{"wrong wrapper", `{"$oid":"x"}`, time.Time{}, false, errBadDate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := parseMongoDate(json.RawMessage(tt.raw))
			if !errors.Is(err, tt.err) || ok != tt.wantOK || !got.Equal(tt.want) {
				t.Fatalf("parseMongoDate(%s) = %v, %v, %v; want %v, %v, %v", tt.raw, got, ok, err, tt.want, tt.wantOK, tt.err)
			}
		})
	}
}

func TestParseMongoExportErrors(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"no id", `{"name":"x","periodicity":60}`, "line 1: missing field: id"},
		{"no name", `{"id":"abcdefgh","periodicity":60}`, "missing field: name"},
		{"no periodicity", `{"id":"abcdefgh","name":"x"}`, "periodicity: missing field"},
		{"bad periodicity", `{"id":"abcdefgh","name":"x","periodicity":{"$oid":"1"}}`, "not a number"},
		{"bad deadline", `{"id":"abcdefgh","name":"x","periodicity":60,"deadline":"soon"}`, "deadline: not a date"},
		{"bad history", `{"id":"abcdefgh","name":"x","periodicity":60,"history":[["2015-03-19T01:08:44Z"]]}`, "history entry 1"},
		{"not JSON", `{"id":`, "line 1: not a canary document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseMongoExport(strings.NewReader(tt.doc + "\n"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestFormatAPITime(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2015, 3, 19, 1, 8, 44, 885182000, time.UTC), "2015-03-19T01:08:44.885182+00:00"},
		{time.Date(2015, 3, 19, 1, 8, 44, 0, time.UTC), "2015-03-19T01:08:44+00:00"},
		{time.Date(2015, 3, 19, 2, 8, 44, 885000999, time.FixedZone("CET", 3600)), "2015-03-19T01:08:44.885000+00:00"},
	}
	for _, tt := range tests {
		if got := formatAPITime(tt.t); got != tt.want {
			t.Errorf("formatAPITime(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
}
