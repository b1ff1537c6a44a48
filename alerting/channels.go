package alerting

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coal-mine/coal-mine/alerting/hook"
	"github.com/coal-mine/coal-mine/fsm"
)

// Channels beyond the canary's own addresses: email channels go through the Notifier
// like every e-mail; webhook, Slack and PagerDuty ones through package hook.

// hookTimeout bounds one delivery to a channel: a slow receiver is retried, never
// waited for long.
const hookTimeout = 10 * time.Second

// newHookClient reuses connections to the few hosts channels point at.
func newHookClient() *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = sendConcurrency
	return &http.Client{Timeout: hookTimeout, Transport: transport}
}

func target(ch fsm.Channel) hook.Target {
	return hook.Target{Kind: ch.Kind, URL: ch.URL, Method: ch.Method, Headers: ch.Headers, Body: ch.Body, RoutingKey: ch.RoutingKey}
}

// ValidateChannel checks a channel's settings the way delivery will use them (it
// implements http.ChannelTester).
func (s *Service) ValidateChannel(ch fsm.Channel) error {
	switch ch.Kind {
	case fsm.ChannelEmail:
		return nil // the state machine checks the addresses
	case fsm.ChannelWebhook, fsm.ChannelSlack, fsm.ChannelPagerDuty:
		return hook.Validate(target(ch))
	}
	return errors.New("kind must be email, webhook, slack or pagerduty")
}

// TestChannel sends a test message through ch from this node and returns what the
// far end answered.
func (s *Service) TestChannel(ctx context.Context, ch fsm.Channel) (int, string, error) {
	now := s.now().UTC()
	summary := "[TEST] coal-mine test message to channel " + ch.Name
	if ch.Kind == fsm.ChannelEmail {
		msg := Message{
			From: "Coal Mine <" + bareAddress(s.cfg.Sender) + ">", Sender: bareAddress(s.cfg.Sender), To: ch.Emails,
			Subject: summary, Body: "This is a test message: notifications for channel " + ch.Name + " reach you.\n",
			MessageID: fmt.Sprintf("<coal-mine.test.%d@coal-mine>", now.UnixNano()), Date: now,
			Headers: map[string]string{"Auto-Submitted": "auto-generated", "X-Coal-Mine-Event": "test"},
		}
		if err := s.cfg.Notifier.Notify(ctx, msg); err != nil {
			return 0, "", err
		}
		return http.StatusOK, "sent to " + strings.Join(ch.Emails, ", "), nil
	}
	resp, err := hook.Send(ctx, s.hooks, target(ch), hook.Event{
		Event: "test", At: now, IdempotencyKey: fmt.Sprintf("coal-mine.test.%d", now.UnixNano()), Summary: summary,
	})
	return resp.Status, resp.Body, err
}

// sendToChannel delivers a record addressed to a channel.
func (d *dispatcher) sendToChannel(ctx context.Context, r fsm.Notification) (outcome, error) {
	s := d.s
	ch, err := s.cfg.Store.Channel(r.Channel)
	if err != nil {
		// Deleted since: nobody is left to tell.
		s.log.Info("channel gone: notification dropped", "channel", r.Channel, "id", r.CanaryID, "kind", r.Kind, "seq", r.Seq)
		return delivered, nil
	}
	if ch.Kind == fsm.ChannelEmail {
		return d.sendMail(ctx, r)
	}
	sctx, cancel := context.WithTimeout(ctx, hookTimeout)
	defer cancel()
	resp, err := hook.Send(sctx, s.hooks, target(*ch), s.event(r))
	if err != nil {
		if ctx.Err() == nil {
			s.metrics.failures.WithLabelValues(string(r.Kind)).Inc()
		}
		if errors.Is(err, hook.ErrPermanent) {
			err = fmt.Errorf("%w: %w", ErrNoRecipients, err) // given up on like a refused e-mail
		}
		return failed, err
	}
	s.metrics.sent.WithLabelValues(string(r.Kind), "sent").Inc()
	s.log.Info("notified channel", "channel", r.Channel, "id", r.CanaryID, "kind", r.Kind, "seq", r.Seq, "status", resp.Status)
	return delivered, nil
}

// eventNames are the events as webhooks name them.
var eventNames = map[fsm.Kind]string{
	fsm.KindLate: "late", fsm.KindResumed: "resumed", fsm.KindFailed: "failed", fsm.KindOverran: "late",
	fsm.KindRepeat: "repeat", fsm.KindOutage: "outage", fsm.KindMemberDown: "member_down",
	fsm.KindMemberUp: "member_up", fsm.KindNotificationsFailing: "notifications_failing",
	fsm.KindLeaderStuck: "leader_stuck",
}

// event renders a record for a channel. The idempotency key is the e-mail's stable
// Message-ID: a receiver drops the duplicate at-least-once delivery can cause.
func (s *Service) event(r fsm.Notification) hook.Event {
	e := hook.Event{
		Event: eventNames[r.Kind], At: r.At, Seq: r.Seq, Summary: Subject(r),
		IdempotencyKey: strings.Trim(messageID(r, s.cfg.Sender), "<>"), Text: body(r),
	}
	if e.Event == "" {
		e.Event = string(r.Kind)
	}
	if r.CanaryID != "" {
		c := &hook.Canary{ID: r.CanaryID, Name: r.Name, Deadline: r.Deadline}
		if len(r.History) > 0 {
			c.LastTrigger = r.History[0].Time()
		}
		if cur, err := s.cfg.Store.Get(r.CanaryID); err == nil {
			c.Slug, c.State = cur.Slug, cur.State()
		}
		if s.cfg.PublicURL != "" {
			c.URL = strings.TrimRight(s.cfg.PublicURL, "/") + "/ui/canary/" + r.CanaryID
		}
		e.Canary = c
	}
	return e
}
