package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2015, 3, 19, 1, 10, 0, 0, time.UTC)

func testPrinter(mode outputMode, color, noHistory bool) (*printer, *bytes.Buffer) {
	var out bytes.Buffer
	return &printer{out: &out, mode: mode, color: color, noHistory: noHistory,
		now:        func() time.Time { return testNow },
		triggerURL: func(id string) string { return "http://cm:8080/" + id }}, &out
}

func TestChooseOutput(t *testing.T) {
	tests := []struct {
		json, human, terminal bool
		want                  outputMode
	}{
		{false, false, true, outputHuman},
		{false, false, false, outputJSON},
		{true, false, true, outputJSON},
		{false, true, false, outputHuman},
	}
	for _, tt := range tests {
		if got := chooseOutput(tt.json, tt.human, tt.terminal); got != tt.want {
			t.Errorf("chooseOutput(json=%v, human=%v, terminal=%v) = %v, want %v", tt.json, tt.human, tt.terminal, got, tt.want)
		}
	}
}

const getBody = `{"status": "ok", "canary": {"paused": false, "name": "My <First> Canary", "id": "fbkvlsby",
 "periodicity": 3600.0, "emails": ["a@b", "c@d"], "late": true, "slug": "my-first-canary",
 "deadline": "2015-03-19T01:14:00+00:00", "description": "",
 "history": [["2015-03-19T01:05:00.885182+00:00", "Triggered (ok)"], ["2015-03-19T01:00:00+00:00", "Canary created"]]}}`

func TestPrintJSON(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		noHistory bool
		want      string
	}{
		{"order, numbers and text kept",
			`{"status":"ok","canary":{"periodicity":3600.0,"name":"a<b","history":[["t","c"]]}}`, false,
			"{\n  \"status\": \"ok\",\n  \"canary\": {\n    \"periodicity\": 3600.0,\n    \"name\": \"a<b\",\n    \"history\": [\n      [\n        \"t\",\n        \"c\"\n      ]\n    ]\n  }\n}\n"},
		{"no history: canary",
			`{"status":"ok","canary":{"periodicity":3600.0,"history":[["t","c"]],"name":"a"}}`, true,
			"{\n  \"status\": \"ok\",\n  \"canary\": {\n    \"periodicity\": 3600.0,\n    \"name\": \"a\"\n  }\n}\n"},
		{"no history: canaries",
			`{"status":"ok","canaries":[{"id":"a","history":[]},{"id":"b"}]}`, true,
			"{\n  \"status\": \"ok\",\n  \"canaries\": [\n    {\n      \"id\": \"a\"\n    },\n    {\n      \"id\": \"b\"\n    }\n  ]\n}\n"},
		{"not JSON is shown as is", "Not Found", false, "Not Found\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, out := testPrinter(outputJSON, false, tt.noHistory)
			if err := p.printJSON([]byte(tt.body)); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", out, tt.want)
			}
		})
	}
}

func TestPrintCanary(t *testing.T) {
	tests := []struct {
		name      string
		color     bool
		noHistory bool
		want      []string
		notWant   []string
	}{
		{"plain", false, false,
			[]string{"Name:         My <First> Canary\n", "ID:           fbkvlsby\n", "Periodicity:  3600 seconds (1h)\n",
				"Emails:       a@b, c@d\n", "State:        LATE\n", "Deadline:     2015-03-19T01:14:00+00:00 (in 4m)\n",
				"Trigger URL:  http://cm:8080/fbkvlsby\n", "  2015-03-19T01:05:00.885182+00:00  4m59s ago  Triggered (ok)\n", "  2015-03-19T01:00:00+00:00         10m ago    Canary created\n", "Description:\n"},
			[]string{"\x1b["}},
		{"color highlights LATE", true, false, []string{"State:        \x1b[1;31mLATE\x1b[0m\n"}, nil},
		{"no history", false, true, []string{"Name:"}, []string{"History", "Canary created"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, out := testPrinter(outputHuman, tt.color, tt.noHistory)
			if err := p.printCanary([]byte(getBody)); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out.String(), w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestPrintList(t *testing.T) {
	body := `{"status":"ok","canaries":[
	 {"id":"aaaaaaaa","name":"Backup","periodicity":90000.0,"late":true,"paused":false,"deadline":"2015-03-19T01:05:00+00:00","emails":["ops@x"]},
	 {"id":"bbbbbbbb","name":"A longer name","periodicity":"* * * * * 60","late":false,"paused":true,"emails":[]},
	 {"id":"cccccccc","name":"Ok","periodicity":60.0,"late":false,"paused":false,"deadline":"2015-03-19T01:11:00+00:00","emails":[]}]}`
	p, out := testPrinter(outputHuman, false, false)
	if err := p.printList([]byte(body)); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"ID        NAME           PERIODICITY  STATE   DEADLINE  EMAILS\n" +
		"aaaaaaaa  Backup         1d1h         LATE    5m ago    ops@x\n" +
		"bbbbbbbb  A longer name  schedule     paused  -\n" +
		"cccccccc  Ok             1m           ok      in 1m\n" +
		"3 canaries, 1 late, 1 paused\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}

	p, out = testPrinter(outputHuman, true, false)
	if err := p.printList([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\x1b[1;31mLATE\x1b[0m    5m ago") {
		t.Errorf("LATE is not highlighted or the columns moved:\n%q", out)
	}
}

func TestPrintTrigger(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"status":"ok","recovered":false,"unpaused":false}`, "Triggered.\n"},
		{`{"status":"ok","recovered":true,"unpaused":true}`, "Triggered; it was late and has recovered; it was paused and is now unpaused.\n"},
	}
	for _, tt := range tests {
		p, out := testPrinter(outputHuman, false, false)
		if err := p.printTrigger([]byte(tt.body)); err != nil {
			t.Fatal(err)
		}
		if out.String() != tt.want {
			t.Errorf("printTrigger(%s) = %q, want %q", tt.body, out, tt.want)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{45 * time.Second, "45s"},
		{4 * time.Minute, "4m"},
		{4*time.Minute + 30*time.Second + 500*time.Millisecond, "4m30s"},
		{time.Hour, "1h"},
		{65 * time.Minute, "1h5m"},
		{25 * time.Hour, "1d1h"},
		{50 * 24 * time.Hour, "50d"},
	}
	for _, tt := range tests {
		if got := humanDuration(tt.d); got != tt.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestRelativeTo(t *testing.T) {
	tests := []struct{ stamp, want string }{
		{"2015-03-19T01:14:00+00:00", "in 4m"},
		{"2015-03-19T01:05:00.885182+00:00", "4m59s ago"},
		{"2015-03-19T01:05:00", "5m ago"}, // the original server's zone-less form
		{"2015-03-19T01:10:00+00:00", "now"},
		{"garbage", ""},
	}
	for _, tt := range tests {
		if got := relativeTo(tt.stamp, testNow); got != tt.want {
			t.Errorf("relativeTo(%q) = %q, want %q", tt.stamp, got, tt.want)
		}
	}
}

func TestFormatPeriodicity(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{3600.0, "3600 seconds (1h)"},
		{1.0, "1 second (1s)"},
		{90.5, "90.5 seconds (1m30s)"},
		{"* * * * * 60", "* * * * * 60"},
	}
	for _, tt := range tests {
		if got := formatPeriodicity(tt.v); got != tt.want {
			t.Errorf("formatPeriodicity(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
