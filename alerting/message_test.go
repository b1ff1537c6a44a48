package alerting

import (
	"bytes"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/fsm"
)

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestMessageText(t *testing.T) {
	history := []fsm.HistoryEntry{
		fsm.NewHistoryEntry(at("2015-03-19 01:08:44.885182"), "Triggered (nightly)"),
		fsm.NewHistoryEntry(at("2015-03-19 01:00:00"), "Canary created"),
	}
	tests := []struct {
		name        string
		n           fsm.Notification
		wantSubject string
		wantBody    string
		wantID      string
	}{
		{
			name: "late",
			n: fsm.Notification{Seq: 7, Kind: fsm.KindLate, At: at("2015-03-19 02:08:45"), CanaryID: "fbkvlsby",
				Name: "My First Canary", Emails: []string{"ops@example.org"}, Deadline: at("2015-03-19 02:08:44.885182"), History: history},
			wantSubject: "[LATE] My First Canary has not reported",
			wantBody: "The canary My First Canary (fbkvlsby) was expected to report before 2015-03-19 02:08:44.885182.\n" +
				"\nRecent events for this canary:\n\n" +
				"2015-03-19 01:08:44.885182     Triggered (nightly)\n" +
				"2015-03-19 01:00:00            Canary created\n",
			wantID: "<coal-mine.fbkvlsby.7.late@example.com>",
		},
		{
			name: "resumed",
			n: fsm.Notification{Seq: 8, Kind: fsm.KindResumed, At: at("2015-03-19 01:08:44.885182"), CanaryID: "fbkvlsby",
				Name: "My First Canary", Emails: []string{"ops@example.org"}, Deadline: at("2015-03-19 02:08:44.885182"), History: history},
			wantSubject: "[RESUMED] My First Canary is reporting again",
			wantBody: "The canary My First Canary (fbkvlsby) is reporting again as of 2015-03-19 01:08:44.885182.\n" +
				"\nThe next trigger for this canary is due before 2015-03-19 02:08:44.885182.\n" +
				"\nRecent events for this canary:\n\n" +
				"2015-03-19 01:08:44.885182     Triggered (nightly)\n" +
				"2015-03-19 01:00:00            Canary created\n",
			wantID: "<coal-mine.fbkvlsby.8.resumed@example.com>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMessage(tt.n, "coal-mine@example.com")
			if m.Subject != tt.wantSubject {
				t.Errorf("subject = %q, want %q", m.Subject, tt.wantSubject)
			}
			if m.Body != tt.wantBody {
				t.Errorf("body =\n%s\nwant\n%s", m.Body, tt.wantBody)
			}
			if m.MessageID != tt.wantID {
				t.Errorf("Message-ID = %q, want %q", m.MessageID, tt.wantID)
			}
			if m.From != "Coal Mine <coal-mine@example.com>" || m.Sender != "coal-mine@example.com" {
				t.Errorf("From = %q, sender = %q", m.From, m.Sender)
			}
		})
	}
}

func TestMessageListsAtMost15Events(t *testing.T) {
	n := fsm.Notification{Kind: fsm.KindLate, CanaryID: "abcdefgh", Name: "x"}
	for i := range 20 {
		n.History = append(n.History, fsm.NewHistoryEntry(epoch.Add(time.Duration(-i)*time.Minute), "Triggered"))
	}
	if got := strings.Count(NewMessage(n, "a@b").Body, "Triggered"); got != 15 {
		t.Errorf("body lists %d events, want 15", got)
	}
}

func TestPythonTime(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{at("2015-03-19 01:08:44.885182"), "2015-03-19 01:08:44.885182"},
		{at("2015-03-19 01:08:44.000001"), "2015-03-19 01:08:44.000001"},
		{at("2015-03-19 01:08:44"), "2015-03-19 01:08:44"},
		{time.Date(2015, 3, 19, 3, 8, 44, 500000000, time.FixedZone("CET+2", 2*3600)), "2015-03-19 01:08:44.500000"},
	}
	for _, tt := range tests {
		if got := pythonTime(tt.t); got != tt.want {
			t.Errorf("pythonTime(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
}

func TestMessageIDDomain(t *testing.T) {
	n := fsm.Notification{Seq: 3, Kind: fsm.KindLate, CanaryID: "abcdefgh"}
	tests := []struct{ sender, want string }{
		{"alerts@mail.example.org", "<coal-mine.abcdefgh.3.late@mail.example.org>"},
		{"Alerts <alerts@example.net>", "<coal-mine.abcdefgh.3.late@example.net>"},
		{"", "<coal-mine.abcdefgh.3.late@localhost>"},
	}
	for _, tt := range tests {
		if got := NewMessage(n, tt.sender).MessageID; got != tt.want {
			t.Errorf("sender %q: Message-ID = %q, want %q", tt.sender, got, tt.want)
		}
	}
}

// parsed is a rendered message read back the way a mail client reads it.
type parsed struct {
	header  mail.Header
	subject string
	to      []*mail.Address
	body    string
}

func readBack(t *testing.T, raw []byte) parsed {
	t.Helper()
	for i, line := range bytes.Split(raw, []byte("\r\n")) {
		if len(line) > maxLine {
			t.Errorf("line %d is %d bytes long", i, len(line))
		}
		if bytes.ContainsRune(line, '\n') || bytes.ContainsRune(line, '\r') {
			t.Errorf("line %d has a bare line break: %q", i, line)
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v\n%s", err, raw)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	to, err := msg.Header.AddressList("To")
	if err != nil {
		t.Fatalf("To: %v", err)
	}
	var body io.Reader = msg.Body
	if msg.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
		body = quotedprintable.NewReader(body)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return parsed{header: msg.Header, subject: subject, to: to, body: strings.ReplaceAll(string(text), "\r\n", "\n")}
}

func TestMessageBytes(t *testing.T) {
	tests := []struct {
		name     string
		canary   string
		emails   []string
		comment  string
		wantTo   []string // display names
		wantCTE  string
		wantName string
	}{
		{"ascii", "Nightly backup", []string{"ops@example.org", "Ops Team <team@example.org>"}, "ok",
			[]string{"", "Ops Team"}, "7bit", "Nightly backup"},
		{"utf-8", "Nächtliches Backup ☃", []string{"Jörg Müller <jm@example.org>"}, "grün",
			[]string{"Jörg Müller"}, "quoted-printable", "Nächtliches Backup ☃"},
		{"long name", strings.Repeat("Überlänge ", 100), []string{"ops@example.org"}, strings.Repeat("x", 2000),
			[]string{""}, "quoted-printable", strings.Repeat("Überlänge ", 100)},
		{"line breaks in a comment", "job", []string{"ops@example.org"}, "one\r\ntwo\rthree",
			[]string{""}, "7bit", "job"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := fsm.Notification{Seq: 1, Kind: fsm.KindLate, At: epoch, CanaryID: "abcdefgh", Name: tt.canary,
				Emails: tt.emails, Deadline: epoch, History: []fsm.HistoryEntry{fsm.NewHistoryEntry(epoch, tt.comment)}}
			m := NewMessage(n, "coal-mine@example.com")
			p := readBack(t, m.Bytes())
			if want := "[LATE] " + tt.wantName + " has not reported"; p.subject != want {
				t.Errorf("subject = %q, want %q", p.subject, want)
			}
			if len(p.to) != len(tt.wantTo) {
				t.Fatalf("To = %v", p.to)
			}
			for i, a := range p.to {
				if a.Name != tt.wantTo[i] || a.Address != m.Recipients()[i] {
					t.Errorf("To[%d] = %q <%s>, want %q <%s>", i, a.Name, a.Address, tt.wantTo[i], m.Recipients()[i])
				}
			}
			checks := map[string]string{
				"From":                      "Coal Mine <coal-mine@example.com>",
				"Message-Id":                "<coal-mine.abcdefgh.1.late@example.com>",
				"Mime-Version":              "1.0",
				"Content-Type":              "text/plain; charset=utf-8",
				"Content-Transfer-Encoding": tt.wantCTE,
				"Date":                      "Wed, 01 Jan 2025 00:00:00 +0000",
				"Auto-Submitted":            "auto-generated",
			}
			for field, want := range checks {
				if got := p.header.Get(field); got != want {
					t.Errorf("%s = %q, want %q", field, got, want)
				}
			}
			wantBody := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\r", "\n")
			if p.body != wantBody {
				t.Errorf("body read back =\n%q\nwant\n%q", p.body, wantBody)
			}
		})
	}
}
