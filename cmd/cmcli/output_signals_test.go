package main

import (
	"strings"
	"testing"
)

// Human views of the keys a server with signals sends (state, cron, last run...);
// output_test.go pins the views of an older server's answers.

const cronCanaryBody = `{"status": "ok", "canary": {"id": "fbkvlsby", "name": "Tokyo report", "slug": "tokyo-report",
 "description": "", "periodicity": null, "emails": [], "late": true, "paused": false,
 "deadline": "2015-03-19T01:14:00+00:00", "history": [], "state": "failed", "cron": "0 2 * * *", "tz": "Asia/Tokyo",
 "grace": 600.0, "max_runtime": 5400.0, "last_duration": 1.25, "last_exit_status": 3}}`

func TestPrintCanaryStates(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		color bool
		want  string // the whole view
	}{
		{"failed cron canary", cronCanaryBody, false, "" +
			"Name:         Tokyo report\n" +
			"ID:           fbkvlsby\n" +
			"Slug:         tokyo-report\n" +
			"Description:\n" +
			"Cron:         0 2 * * *\n" +
			"Time zone:    Asia/Tokyo\n" +
			"Grace:        600 seconds (10m)\n" +
			"Max runtime:  5400 seconds (1h30m)\n" +
			"Emails:\n" +
			"State:        FAILED\n" +
			"Deadline:     2015-03-19T01:14:00+00:00 (in 4m)\n" +
			"Last run:     exit 3 in 1.2s\n" +
			"Trigger URL:  http://cm:8080/fbkvlsby\n" +
			"History:\n"},
		{"started", `{"canary": {"id": "a", "name": "n", "periodicity": 60.0, "state": "started",
			"started": "2015-03-19T01:09:00+00:00", "deadline": "2015-03-19T01:11:00+00:00", "last_duration": 75.0, "last_exit_status": 0}}`, false, "" +
			"Name:         n\n" +
			"ID:           a\n" +
			"Slug:\n" +
			"Description:\n" +
			"Periodicity:  60 seconds (1m)\n" +
			"Emails:\n" +
			"State:        started\n" +
			"Started:      2015-03-19T01:09:00+00:00 (1m ago)\n" +
			"Deadline:     2015-03-19T01:11:00+00:00 (in 1m)\n" +
			"Last run:     exit 0 in 1m15s\n" +
			"Trigger URL:  http://cm:8080/a\n" +
			"History:\n"},
		{"paused until", `{"canary": {"id": "a", "name": "n", "periodicity": 60.0, "paused": true, "state": "paused",
			"paused_until": "2015-03-19T03:10:00+00:00"}}`, false, "" +
			"Name:         n\n" +
			"ID:           a\n" +
			"Slug:\n" +
			"Description:\n" +
			"Periodicity:  60 seconds (1m)\n" +
			"Emails:\n" +
			"State:        paused\n" +
			"Paused until: 2015-03-19T03:10:00+00:00 (in 2h)\n" +
			"Deadline:     none (paused)\n" +
			"Trigger URL:  http://cm:8080/a\n" +
			"History:\n"},
		{"up", `{"canary": {"id": "a", "name": "n", "periodicity": 60.0, "state": "up", "deadline": "2015-03-19T01:11:00+00:00"}}`, false, "" +
			"Name:         n\n" +
			"ID:           a\n" +
			"Slug:\n" +
			"Description:\n" +
			"Periodicity:  60 seconds (1m)\n" +
			"Emails:\n" +
			"State:        up\n" +
			"Deadline:     2015-03-19T01:11:00+00:00 (in 1m)\n" +
			"Trigger URL:  http://cm:8080/a\n" +
			"History:\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, out := testPrinter(outputHuman, tt.color, false)
			if err := p.printCanary([]byte(tt.body)); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", out, tt.want)
			}
		})
	}
	p, out := testPrinter(outputHuman, true, false)
	if err := p.printCanary([]byte(cronCanaryBody)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "State:        \x1b[1;31mFAILED\x1b[0m\n") {
		t.Errorf("FAILED is not highlighted:\n%q", out)
	}
}

func TestPrintListStates(t *testing.T) {
	body := `{"status":"ok","canaries":[
	 {"id":"aaaaaaaa","name":"Backup","periodicity":90000.0,"late":true,"paused":false,"state":"late","deadline":"2015-03-19T01:05:00+00:00","emails":["ops@x"]},
	 {"id":"bbbbbbbb","name":"Tokyo report","periodicity":null,"cron":"0 2 * * *","tz":"Asia/Tokyo","late":true,"paused":false,"state":"failed",
	  "deadline":"2015-03-19T01:00:00+00:00","last_duration":1.25,"last_exit_status":3,"emails":[]},
	 {"id":"cccccccc","name":"Held","periodicity":60.0,"late":false,"paused":true,"state":"paused","paused_until":"2015-03-19T01:40:00+00:00","emails":[]},
	 {"id":"dddddddd","name":"Running","periodicity":60.0,"late":false,"paused":false,"state":"started","deadline":"2015-03-19T01:11:00+00:00",
	  "last_duration":0.04,"last_exit_status":0,"emails":[]}]}`
	p, out := testPrinter(outputHuman, false, false)
	if err := p.printList([]byte(body)); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"ID        NAME          PERIODICITY           STATE    DEADLINE        LAST RUN        EMAILS\n" +
		"aaaaaaaa  Backup        1d1h                  LATE     5m ago          -               ops@x\n" +
		"bbbbbbbb  Tokyo report  0 2 * * * Asia/Tokyo  FAILED   10m ago         exit 3 in 1.2s\n" +
		"cccccccc  Held          1m                    paused   unpause in 30m  -\n" +
		"dddddddd  Running       1m                    started  in 1m           exit 0 in 0.0s\n" +
		"4 canaries, 1 late, 1 failed, 1 paused\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

func TestPrintRuns(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		color bool
		want  string
	}{
		{"runs newest first", `{"status":"ok","runs":[
		  {"rid":"r3","state":"running","started":"2015-03-19T01:09:30.5+00:00"},
		  {"rid":"r2","state":"failed","started":"2015-03-19T01:00:00+00:00","ended":"2015-03-19T01:01:15+00:00","duration":75.0,"exit_status":3,
		   "output":"\n  oops: disk full\nsecond line\n"},
		  {"rid":"r1","state":"success","started":"2015-03-18T01:00:00+00:00","ended":"2015-03-18T01:00:01.2+00:00","duration":1.2,"exit_status":0,"output":"ok\u001b[31m\ttab"},
		  {"state":"log","ended":"2015-03-17T00:00:00+00:00","output":"` + strings.Repeat("x", 70) + `"}]}`, false, "" +
			"STARTED               ENDED                 DURATION  EXIT  STATE    OUTPUT\n" +
			"2015-03-19T01:09:30Z  -                     -         -     running\n" +
			"2015-03-19T01:00:00Z  2015-03-19T01:01:15Z  1m15s     3     failed   oops: disk full\n" +
			"2015-03-18T01:00:00Z  2015-03-18T01:00:01Z  1.2s      0     success  ok?[31m tab\n" +
			"-                     2015-03-17T00:00:00Z  -         -     log      " + strings.Repeat("x", 59) + "…\n" +
			"4 runs\n"},
		{"failed is highlighted", `{"runs":[{"state":"failed","exit_status":1}]}`, true, "" +
			"\x1b[1mSTARTED\x1b[0m  \x1b[1mENDED\x1b[0m  \x1b[1mDURATION\x1b[0m  \x1b[1mEXIT\x1b[0m  \x1b[1mSTATE\x1b[0m   \x1b[1mOUTPUT\x1b[0m\n" +
			"-        -      -         1     \x1b[1;31mfailed\x1b[0m\n" +
			"1 run\n"},
		{"no runs", `{"status":"ok","runs":[]}`, false, "No runs recorded.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, out := testPrinter(outputHuman, tt.color, false)
			if err := p.printRuns([]byte(tt.body)); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", out, tt.want)
			}
		})
	}
}

// TestCLIRunsJSON: --json prints the server's answer (each run's whole output).
func TestCLIRunsJSON(t *testing.T) {
	srv := newFakeServer(t, func(recordedRequest) (int, string) {
		return 200, `{"status":"ok","runs":[{"rid":"r","state":"failed","duration":1.50,"exit_status":3,"output":"oops\nmore"}]}`
	})
	env := newCLIEnv(t)
	code, stdout, stderr := env.run("", "--host", srv.URL, "--json", "runs", "--id", "abcdefgh")
	want := "{\n  \"status\": \"ok\",\n  \"runs\": [\n    {\n      \"rid\": \"r\",\n      \"state\": \"failed\",\n      \"duration\": 1.50,\n" +
		"      \"exit_status\": 3,\n      \"output\": \"oops\\nmore\"\n    }\n  ]\n}\n"
	if code != 0 || stdout != want {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, stderr, stdout, want)
	}
}
