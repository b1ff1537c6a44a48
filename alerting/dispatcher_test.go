package alerting

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coal-mine/coal-mine/alerting/smtpsink"
	"github.com/coal-mine/coal-mine/fsm"
	dto "github.com/prometheus/client_model/go"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

func startSink(t *testing.T) *smtpsink.Sink {
	t.Helper()
	sink, err := smtpsink.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	return sink
}

// smtpTo returns a node option that sends through SMTP to sink.
func smtpTo(t *testing.T, sink *smtpsink.Sink) nodeOption {
	host, port, err := net.SplitHostPort(sink.Addr())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return func(c *Config) {
		c.Notifier = NewSMTPNotifier(SMTPConfig{Host: host, Port: p, Timeout: 5 * time.Second})
	}
}

func waitMail(t *testing.T, sink *smtpsink.Sink, n int) []smtpsink.Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sink.WaitFor(ctx, n); err != nil {
		t.Fatal(err)
	}
	return sink.Messages()
}

func outboxEmpty(n *node) func() bool { return func() bool { return len(n.f.Outbox()) == 0 } }

// ackedSeqs lists every sequence number acknowledged, in order, repeats included.
func ackedSeqs(n *node) []uint64 {
	var seqs []uint64
	for _, c := range n.prop.committed(fsm.TypeNotificationSent) {
		seqs = append(seqs, c.NotificationSent.Seqs...)
	}
	return seqs
}

func TestDispatcherDeliversLateThenResumed(t *testing.T) {
	sink := startSink(t)
	n := startNode(t, smtpTo(t, sink))
	lead(t, n)
	id := n.create(t, "Nächtliches Backup ☃", 50*time.Millisecond, "Jörg Müller <jm@example.org>", "ops@example.org")

	late := waitMail(t, sink, 1)[0]
	if !n.canary(t, id).Late {
		t.Fatal("LATE mail for a canary that is not late")
	}
	n.trigger(t, id)
	resumed := waitMail(t, sink, 2)[1]
	testkit.Until(t, 5*time.Second, "both records are acknowledged", outboxEmpty(n))

	tests := []struct {
		got                       smtpsink.Received
		subject, messageID, start string
	}{
		{late, "[LATE] Nächtliches Backup ☃ has not reported", "<coal-mine." + id + ".1.late@example.com>",
			"The canary Nächtliches Backup ☃ (" + id + ") was expected to report before "},
		{resumed, "[RESUMED] Nächtliches Backup ☃ is reporting again", "<coal-mine." + id + ".2.resumed@example.com>",
			"The canary Nächtliches Backup ☃ (" + id + ") is reporting again as of "},
	}
	for _, tt := range tests {
		if tt.got.Subject != tt.subject {
			t.Errorf("subject = %q, want %q", tt.got.Subject, tt.subject)
		}
		if tt.got.MessageID != tt.messageID {
			t.Errorf("Message-ID = %q, want %q", tt.got.MessageID, tt.messageID)
		}
		if !strings.HasPrefix(tt.got.Body, tt.start) || !strings.Contains(tt.got.Body, "Recent events for this canary:") {
			t.Errorf("body:\n%s", tt.got.Body)
		}
		if tt.got.From != "coal-mine@example.com" || !slices.Equal(tt.got.To, []string{"jm@example.org", "ops@example.org"}) {
			t.Errorf("envelope %q -> %q", tt.got.From, tt.got.To)
		}
		to, err := mail.Header(tt.got.Header).AddressList("To")
		if err != nil || len(to) != 2 || to[0].Name != "Jörg Müller" || to[0].Address != "jm@example.org" {
			t.Errorf("To header %q: %v %v", tt.got.Header["To"], to, err)
		}
	}
	if got := ackedSeqs(n); !slices.Equal(got, []uint64{1, 2}) {
		t.Errorf("acknowledged %v, want each record once", got)
	}
}

func TestResendAfterLostAckKeepsMessageID(t *testing.T) {
	sink := startSink(t)
	n := startNode(t, smtpTo(t, sink))
	// The node sends, then loses leadership before its acknowledgement commits.
	n.prop.setHook(func(_ context.Context, cmd *fsm.Command) error {
		if cmd.Type == fsm.TypeNotificationSent {
			return errors.New("leadership lost")
		}
		return nil
	})
	lead(t, n)
	n.create(t, "crashy", time.Millisecond, "ops@example.org")
	waitMail(t, sink, 1)
	n.svc.Revoke()
	n.prop.setHook(nil)

	lead(t, n) // the next leader (here the same node) sends what is unsent
	msgs := waitMail(t, sink, 2)
	testkit.Until(t, 5*time.Second, "the record is acknowledged", outboxEmpty(n))
	if msgs[0].MessageID != msgs[1].MessageID || msgs[0].Data != msgs[1].Data {
		t.Errorf("the resent message differs:\n%s\n---\n%s", msgs[0].Data, msgs[1].Data)
	}
	if got := len(sink.Messages()); got != 2 {
		t.Errorf("%d messages, want the original and one resend", got)
	}
}

// countingNotifier counts attempts.
type countingNotifier struct {
	Notifier
	attempts atomic.Int32
}

func (c *countingNotifier) Notify(ctx context.Context, m Message) error {
	c.attempts.Add(1)
	return c.Notifier.Notify(ctx, m)
}

func TestFailingServerDelaysButNeverLoses(t *testing.T) {
	sink := startSink(t)
	sink.SetFailing(true)
	var counter *countingNotifier
	n := startNode(t, smtpTo(t, sink), func(c *Config) {
		counter = &countingNotifier{Notifier: c.Notifier}
		c.Notifier = counter
	})
	lead(t, n)
	n.create(t, "patient", time.Millisecond, "ops@example.org")
	testkit.Until(t, 10*time.Second, "the send is retried", func() bool { return counter.attempts.Load() >= 3 })
	if len(n.f.Outbox()) != 1 {
		t.Fatal("the record left the outbox while the server was failing")
	}

	sink.SetFailing(false)
	waitMail(t, sink, 1)
	testkit.Until(t, 5*time.Second, "the record is acknowledged", outboxEmpty(n))
	if got := ackedSeqs(n); !slices.Equal(got, []uint64{1}) {
		t.Errorf("acknowledged %v, want [1] once", got)
	}
	if got := len(sink.Messages()); got != 1 {
		t.Errorf("%d messages delivered, want 1", got)
	}
	if !strings.Contains(n.log.String(), "notify failed for canary patient") {
		t.Errorf("failures not logged:\n%s", n.log)
	}
}

func TestFailingRecordDoesNotHoldOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t)
		broken := errors.New("mailbox unavailable")
		n.notify.setFail(func(m Message) error {
			if slices.Contains(m.To, "broken@example.org") {
				return broken
			}
			return nil
		})
		lead(t, n)
		n.create(t, "stuck", time.Millisecond, "broken@example.org")
		testkit.Until(t, 5*time.Second, "the broken record is retried", func() bool { return n.notify.attemptCount() >= 2 })
		n.create(t, "flowing", time.Millisecond, "ok@example.org")
		testkit.Until(t, 5*time.Second, "the other record is delivered and acknowledged", func() bool {
			return len(n.notify.messages()) == 1 && len(n.f.Outbox()) == 1
		})
		if got := n.notify.messages()[0].Subject; got != "[LATE] flowing has not reported" {
			t.Errorf("delivered %q", got)
		}

		n.notify.setFail(nil)
		testkit.Until(t, 5*time.Second, "the broken record is delivered once the server recovers", outboxEmpty(n))
		if got := kinds(n.notify.messages()); len(got) != 2 {
			t.Errorf("delivered %v", got)
		}
	})
}

func TestResumedNeverOvertakesLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t)
		n.notify.setFail(func(m Message) error {
			if strings.HasPrefix(m.Subject, "[LATE]") {
				return errors.New("try again later")
			}
			return nil
		})
		lead(t, n)
		id := n.create(t, "ordered", time.Millisecond, "ops@example.org")
		testkit.Until(t, 5*time.Second, "the LATE mail fails", func() bool { return n.notify.attemptCount() >= 1 })
		// Triggered (a RESUMED record), and paused in the same entry so it cannot go late again.
		now := time.Now().UTC().Truncate(time.Microsecond)
		for _, res := range n.f.ApplyCommands([]fsm.Command{
			{Type: fsm.TypeTrigger, Version: fsm.CommandVersion, At: now, Trigger: &fsm.Trigger{ID: id}},
			{Type: fsm.TypePause, Version: fsm.CommandVersion, At: now, Pause: &fsm.Pause{ID: id}},
		}) {
			if res.Err != nil {
				t.Fatal(res.Err)
			}
		}
		attempts := n.notify.attemptCount()
		testkit.Until(t, 5*time.Second, "the LATE mail is retried", func() bool { return n.notify.attemptCount() >= attempts+2 })
		if got := n.notify.messages(); len(got) != 0 {
			t.Fatalf("delivered %v while the LATE mail before it was failing", kinds(got))
		}

		n.notify.setFail(nil)
		testkit.Until(t, 5*time.Second, "both are delivered", outboxEmpty(n))
		if got, want := kinds(n.notify.messages()), []string{"late " + id, "resumed " + id}; !slices.Equal(got, want) {
			t.Errorf("delivered %v, want %v", got, want)
		}
	})
}

func TestRecordWithoutEmailsIsLoggedAndAcked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t)
		lead(t, n)
		id := n.create(t, "silent", time.Millisecond)
		testkit.Until(t, 5*time.Second, "the record is acknowledged", func() bool {
			return n.canary(t, id).Late && len(ackedSeqs(n)) == 1 && len(n.f.Outbox()) == 0
		})
		if got := n.notify.messages(); len(got) != 0 {
			t.Errorf("sent %v for a canary without addresses", kinds(got))
		}
		want := "no emails for canary silent (" + id + ", [LATE] silent has not reported)"
		if !strings.Contains(n.log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, n.log)
		}
	})
}

func TestAckedRecordIsNotSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := startNode(t) // not leading: the test drives a dispatcher itself
		id := n.create(t, "done already", time.Millisecond, "ops@example.org")
		deadline := n.canary(t, id).Deadline
		n.f.ApplyCommands([]fsm.Command{{Type: fsm.TypeMarkLate, Version: fsm.CommandVersion,
			At: deadline.Add(time.Millisecond), MarkLate: &fsm.MarkLate{ID: id, Deadline: deadline}}})
		// The dispatcher read the outbox; then an earlier leader's acknowledgement commits.
		records := n.f.Outbox()
		if len(records) != 1 {
			t.Fatalf("outbox = %v", records)
		}
		n.f.ApplyCommands([]fsm.Command{{Type: fsm.TypeNotificationSent, Version: fsm.CommandVersion,
			At: deadline.Add(time.Millisecond), NotificationSent: &fsm.NotificationSent{Seqs: []uint64{records[0].Seq}}}})

		d := &dispatcher{s: n.svc, failures: map[uint64]*failure{}, delivered: map[uint64]bool{}}
		if sent := d.sendAll(context.Background(), records); len(sent) != 0 {
			t.Errorf("acknowledged again: %v", sent)
		}
		if got := n.notify.messages(); len(got) != 0 {
			t.Errorf("sent a record that was already acknowledged: %v", kinds(got))
		}
	})
}

// TestGivingUpLetsTheCanaryGoOn: a notification whose every recipient is refused for
// good, or that keeps failing past GiveUpAfter, is recorded as failed in its canary's
// history, counted, and no longer holds back the canary's later notifications.
func TestGivingUpLetsTheCanaryGoOn(t *testing.T) {
	refused := fmt.Errorf("%w: rcpt nobody@example.org: 550 no such user", ErrNoRecipients)
	tests := []struct {
		name     string
		opt      nodeOption
		failWith error
		attempts int // sends of the LATE mail before it is given up on
	}{
		{"refused for good", func(c *Config) { c.MaxRefusals = 3 }, refused, 3},
		{"failing past GiveUpAfter", func(c *Config) { c.GiveUpAfter = 50 * time.Millisecond }, errors.New("421 try again later"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := startNode(t, tt.opt)
				var lateAttempts atomic.Int32
				n.notify.setFail(func(m Message) error {
					if strings.HasPrefix(m.Subject, "[LATE]") {
						lateAttempts.Add(1)
						return tt.failWith
					}
					return nil
				})
				lead(t, n)
				id := n.create(t, "unlucky", time.Millisecond, "nobody@example.org")
				testkit.Until(t, 5*time.Second, "the LATE mail is tried", func() bool { return lateAttempts.Load() >= 1 })
				// A RESUMED record behind the failing LATE (paused in the same entry, so that
				// it cannot go late again).
				now := time.Now().UTC().Truncate(time.Microsecond)
				n.f.ApplyCommands([]fsm.Command{
					{Type: fsm.TypeTrigger, Version: fsm.CommandVersion, At: now, Trigger: &fsm.Trigger{ID: id}},
					{Type: fsm.TypePause, Version: fsm.CommandVersion, At: now, Pause: &fsm.Pause{ID: id}},
				})
				testkit.Until(t, 10*time.Second, "the LATE mail is given up on and the RESUMED one sent", outboxEmpty(n))

				if got := kinds(n.notify.messages()); !slices.Equal(got, []string{"resumed " + id}) {
					t.Errorf("delivered %v, want the RESUMED mail only", got)
				}
				if tt.attempts > 0 && int(lateAttempts.Load()) != tt.attempts {
					t.Errorf("the LATE mail was tried %d times, want %d", lateAttempts.Load(), tt.attempts)
				}
				failed := n.prop.committed(fsm.TypeNotificationFailed)
				if len(failed) != 1 || failed[0].NotificationFailed.Seq != 1 {
					t.Fatalf("notification-failed commands: %+v", failed)
				}
				var comments []string
				for _, h := range n.canary(t, id).NewestFirst() {
					comments = append(comments, h.Comment)
				}
				want := "Notification to email failed (late): " + tt.failWith.Error()
				if !slices.Contains(comments, want) {
					t.Errorf("history %q lacks %q", comments, want)
				}
				var m dto.Metric
				if err := n.svc.metrics.abandoned.WithLabelValues("late").Write(&m); err != nil || m.GetCounter().GetValue() != 1 {
					t.Errorf("abandoned late notifications counted %v (%v), want 1", m.GetCounter().GetValue(), err)
				}
			})
		})
	}
}
