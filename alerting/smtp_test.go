package alerting

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/fsm"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

func testMessage() Message {
	return NewMessage(fsm.Notification{Seq: 1, Kind: fsm.KindLate, At: epoch, CanaryID: "abcdefgh", Name: "job",
		Emails: []string{"ops@example.org"}, Deadline: epoch}, "coal-mine@example.com")
}

func sinkConfig(t *testing.T, addr string) SMTPConfig {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := net.LookupPort("tcp", port)
	return SMTPConfig{Host: host, Port: p}
}

func TestSMTPNotifierSends(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(SMTPConfig) SMTPConfig
	}{
		{"plain", func(c SMTPConfig) SMTPConfig { return c }},
		// PLAIN without TLS is allowed to localhost only; the sink accepts any login.
		{"auth to localhost", func(c SMTPConfig) SMTPConfig { c.Username, c.Password = "user", "secret"; return c }},
		{"own EHLO name", func(c SMTPConfig) SMTPConfig { c.LocalName = "node1.example.com"; return c }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := startSink(t)
			n := NewSMTPNotifier(tt.cfg(sinkConfig(t, sink.Addr())))
			if err := n.Notify(context.Background(), testMessage()); err != nil {
				t.Fatal(err)
			}
			got := sink.Messages()
			if len(got) != 1 || got[0].Subject != "[LATE] job has not reported" {
				t.Fatalf("received %+v", got)
			}
		})
	}
}

func TestSMTPNotifierDefaults(t *testing.T) {
	n := NewSMTPNotifier(SMTPConfig{})
	if n.addr() != "localhost:25" || n.cfg.Timeout != DefaultSMTPTimeout {
		t.Errorf("defaults: %s, %v", n.addr(), n.cfg.Timeout)
	}
}

func TestSMTPNotifierRefusesAuthInTheClearToARemoteHost(t *testing.T) {
	sink := startSink(t)
	// The server is named as a remote host (reached here through the sink): net/smtp
	// must refuse to send the password over an unencrypted connection.
	n := NewSMTPNotifier(SMTPConfig{Host: "mail.example.com", Port: 25, Username: "u", Password: "p"})
	n.dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, sink.Addr())
	}
	err := n.Notify(context.Background(), testMessage())
	if err == nil || !strings.Contains(err.Error(), "unencrypted") {
		t.Fatalf("auth over an unencrypted remote connection: %v", err)
	}
	if len(sink.Messages()) != 0 {
		t.Fatal("message sent after refusing to authenticate")
	}
}

func TestSMTPNotifierTimesOutOnAHungServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // accept, then never answer
		}
	}()
	cfg := sinkConfig(t, ln.Addr().String())
	cfg.Timeout = 100 * time.Millisecond
	start := time.Now()
	err = NewSMTPNotifier(cfg).Notify(context.Background(), testMessage())
	if err == nil {
		t.Fatal("send to a silent server succeeded")
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("send gave up after %v", elapsed)
	}

	// Cancelling the context ends a send at once too.
	cfg.Timeout = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := NewSMTPNotifier(cfg).Notify(ctx, testMessage()); err == nil {
		t.Fatal("cancelled send succeeded")
	}
}

func TestSMTPNotifierConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := sinkConfig(t, ln.Addr().String())
	ln.Close()
	if err := NewSMTPNotifier(cfg).Notify(context.Background(), testMessage()); err == nil {
		t.Fatal("send to a closed port succeeded")
	}
}

func TestLogNotifier(t *testing.T) {
	var buf testkit.Buffer
	n := NewLogNotifier(slogTo(&buf))
	if err := n.Notify(context.Background(), testMessage()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "[LATE] job has not reported") {
		t.Errorf("log = %q", buf.String())
	}
}

func slogTo(w *testkit.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// TestSMTPNotifierReusesSessions: a burst of notifications shares connections, and a
// session the server dropped while idle is replaced without failing the message.
func TestSMTPNotifierReusesSessions(t *testing.T) {
	sink := startSink(t)
	n := NewSMTPNotifier(sinkConfig(t, sink.Addr()))
	var dials int
	var conns []net.Conn
	dial := n.dial
	n.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials++
		c, err := dial(ctx, network, addr)
		if err == nil {
			conns = append(conns, c)
		}
		return c, err
	}
	for range 5 {
		if err := n.Notify(context.Background(), testMessage()); err != nil {
			t.Fatal(err)
		}
	}
	if dials != 1 || len(sink.Messages()) != 5 {
		t.Fatalf("5 sequential messages took %d connections; sink has %d", dials, len(sink.Messages()))
	}
	conns[0].Close() // as if the server had timed the idle session out
	if err := n.Notify(context.Background(), testMessage()); err != nil {
		t.Fatalf("send after the idle session was dropped: %v", err)
	}
	if dials != 2 || len(sink.Messages()) != 6 {
		t.Fatalf("after a dropped session: %d connections, %d messages", dials, len(sink.Messages()))
	}
}
