package smtpsink

import (
	"context"
	"errors"
	"net/smtp"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"
)

func startSink(t *testing.T) *Sink {
	t.Helper()
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

const testMessage = "From: Coal Mine <cm@example.org>\r\n" +
	"To: a@example.org\r\n" +
	"Subject: =?utf-8?q?[LATE]_N=C3=A4chtlich_has_not_reported?=\r\n" +
	"Message-ID: <coal-mine.abcdefgh.1.late@example.org>\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"N=C3=A4chtlich is late.\r\n" +
	".a line that starts with a dot\r\n" +
	"a very long line that is soft=\r\n" +
	" broken\r\n"

func TestSinkReceivesFromNetSMTP(t *testing.T) {
	s := startSink(t)
	err := smtp.SendMail(s.Addr(), nil, "cm@example.org", []string{"a@example.org", "b@example.org"}, []byte(testMessage))
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitFor(ctx, 1); err != nil {
		t.Fatal(err)
	}
	msgs := s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("received %d messages", len(msgs))
	}
	m := msgs[0]
	if m.From != "cm@example.org" || !slices.Equal(m.To, []string{"a@example.org", "b@example.org"}) {
		t.Errorf("envelope = %q -> %q", m.From, m.To)
	}
	if m.Subject != "[LATE] Nächtlich has not reported" {
		t.Errorf("subject = %q", m.Subject)
	}
	if m.MessageID != "<coal-mine.abcdefgh.1.late@example.org>" {
		t.Errorf("Message-ID = %q", m.MessageID)
	}
	wantBody := "Nächtlich is late.\n.a line that starts with a dot\na very long line that is soft broken\n"
	if m.Body != wantBody {
		t.Errorf("body = %q, want %q", m.Body, wantBody)
	}
	if !strings.Contains(m.Data, "\n.a line that starts with a dot\n") {
		t.Errorf("dot-stuffing not undone in data:\n%s", m.Data)
	}
	if m.Header["To"][0] != "a@example.org" {
		t.Errorf("headers = %v", m.Header)
	}

	s.Clear()
	if got := len(s.Messages()); got != 0 {
		t.Errorf("after Clear: %d messages", got)
	}
}

func TestSinkWithAuth(t *testing.T) {
	s := startSink(t)
	host, _, _ := strings.Cut(s.Addr(), ":")
	auth := smtp.PlainAuth("", "user", "secret", host)
	if err := smtp.SendMail(s.Addr(), auth, "cm@example.org", []string{"a@example.org"}, []byte(testMessage)); err != nil {
		t.Fatalf("send with auth: %v", err)
	}
	if len(s.Messages()) != 1 {
		t.Fatal("message not stored")
	}
}

func TestSinkFailing(t *testing.T) {
	s := startSink(t)
	s.SetFailing(true)
	err := smtp.SendMail(s.Addr(), nil, "cm@example.org", []string{"a@example.org"}, []byte(testMessage))
	var tpErr *textproto.Error
	if !errors.As(err, &tpErr) || tpErr.Code != 451 {
		t.Fatalf("send to a failing sink: %v, want a 451", err)
	}
	if len(s.Messages()) != 0 {
		t.Fatal("a failing sink stored a message")
	}
	s.SetFailing(false)
	if err := smtp.SendMail(s.Addr(), nil, "cm@example.org", []string{"a@example.org"}, []byte(testMessage)); err != nil {
		t.Fatalf("send after recovery: %v", err)
	}
	if len(s.Messages()) != 1 {
		t.Fatal("message not stored after recovery")
	}
}

func TestSinkProtocolErrors(t *testing.T) {
	s := startSink(t)
	conn, err := textproto.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, _, err := conn.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		cmd  string
		code int
	}{
		{"EHLO test", 250},
		{"RCPT TO:<a@b>", 503},
		{"DATA", 503},
		{"MAIL FROM a@b", 501},
		{"MAIL FROM:<a@b> BODY=8BITMIME", 250},
		{"MAIL FROM:<a@b>", 503},
		{"RCPT TO:<>", 501},
		{"RSET", 250},
		{"NOOP", 250},
		{"STARTTLS", 502},
		{"QUIT", 221},
	}
	for _, st := range steps {
		id, err := conn.Cmd("%s", st.cmd)
		if err != nil {
			t.Fatal(err)
		}
		conn.StartResponse(id)
		code, msg, _ := conn.ReadResponse(0)
		conn.EndResponse(id)
		if code != st.code {
			t.Errorf("%s: %d %s, want %d", st.cmd, code, msg, st.code)
		}
	}
}

func TestWaitForTimesOut(t *testing.T) {
	s := startSink(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.WaitFor(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor on an empty sink = %v", err)
	}
}

func TestCloseEndsOpenSessions(t *testing.T) {
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := textproto.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, _, err := conn.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for an idle client")
	}
}
