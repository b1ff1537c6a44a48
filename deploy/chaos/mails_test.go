package main

import (
	"io"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/alerting"
	"github.com/coal-mine/coal-mine/alerting/smtpsink"
	"github.com/coal-mine/coal-mine/fsm"
)

// The campaign reads the transition out of a mail as alerting renders it: rendered
// here by the real renderer, so that a change of format breaks this test, not a run.
func TestParseMailOfTheRenderer(t *testing.T) {
	at := time.Date(2025, 1, 1, 12, 0, 0, 123456000, time.UTC)
	n := fsm.Notification{
		Seq: 17, Kind: fsm.KindResumed, At: at, CanaryID: "abcdefgh", Name: "Chaos Pulse 1 (every 3s)",
		Emails: []string{"ops@example.org"}, Deadline: at.Add(3 * time.Second),
		History: []fsm.HistoryEntry{
			fsm.NewHistoryEntry(at, "Triggered (p1-w12)"),
			fsm.NewHistoryEntry(at.Add(-5*time.Second), "Triggered (p1-w11)"),
		},
	}
	raw := alerting.NewMessage(n, "coal-mine-chaos@example.org").Bytes()
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(msg.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, dup, err := parseMails([]smtpsink.Received{
		{MessageID: msg.Header.Get("Message-ID"), Body: string(body)},
		{MessageID: msg.Header.Get("Message-ID"), Body: string(body)},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Mail{MessageID: msg.Header.Get("Message-ID"), CanaryID: "abcdefgh", Kind: "resumed", Seq: 17, Newest: "Triggered (p1-w12)"}
	if len(got) != 1 || dup != 1 || got[0] != want {
		t.Fatalf("parsed %+v (%d duplicates), want %+v and 1 duplicate", got, dup, want)
	}
}
