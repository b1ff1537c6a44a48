package hook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"
)

const (
	// maxResponse bounds how much of an answer is kept: enough for an error message,
	// which is all it is for.
	maxResponse = 4 << 10
	// maxDrain bounds how much more of an answer is read and thrown away so that the
	// connection can be reused; a longer answer costs a new connection instead.
	maxDrain = 64 << 10
	// maxSummary is PagerDuty's limit on payload.summary.
	maxSummary = 1024
	// maxDedupKey is PagerDuty's limit on dedup_key.
	maxDedupKey = 255
	userAgent   = "coal-mine"
)

// Send renders e for t and sends it with client (http.DefaultClient when nil), bounded
// by ctx. It returns the far end's answer (also on a non-2xx status, together with an
// error). 2xx is success. Timeouts, connection errors, 5xx, 408 and 429 are transient
// (plain errors); others wrap ErrPermanent. Errors never contain the URL or the
// routing key.
//
// ctx is the only bound on the time taken unless client has a Timeout: the caller
// should give it a deadline.
func Send(ctx context.Context, client *http.Client, t Target, e Event) (Response, error) {
	resp, err := send(ctx, client, t, e)
	return resp, redact(err, t)
}

func send(ctx context.Context, client *http.Client, t Target, e Event) (Response, error) {
	if client == nil {
		client = http.DefaultClient
	}
	tmpl, err := check(t)
	if err != nil {
		return Response{}, err
	}
	req, err := build(ctx, t, tmpl, e)
	if err != nil {
		return Response{}, err
	}
	res, err := client.Do(req)
	if err != nil {
		return Response{}, transportError(t.Kind, err)
	}
	resp := readResponse(res)
	return resp, statusError(t.Kind, resp.Status)
}

// build renders e as t's request.
func build(ctx context.Context, t Target, tmpl *template.Template, e Event) (*http.Request, error) {
	var (
		m           = http.MethodPost
		endpoint    = t.URL
		body        []byte
		contentType = "application/json"
		headers     []header
		err         error
	)
	switch t.Kind {
	case KindWebhook:
		m, _ = method(t.Method)
		headers, _ = parseHeaders(t.Headers) // checked already
		switch {
		case m == http.MethodGet:
			// A GET carries the event only in its headers: the receiver is a
			// health-check style URL that just needs to be hit.
			contentType = ""
		case tmpl != nil:
			w := &limitedBuffer{max: maxRendered}
			if err := tmpl.Execute(w, e); err != nil {
				return nil, &permanentError{fmt.Errorf("hook: webhook body template: %w", err)}
			}
			body = w.buf.Bytes()
			contentType = "text/plain; charset=utf-8"
		default:
			body, err = marshal(e)
		}
	case KindSlack:
		body, err = marshal(slackBody(e))
	case KindPagerDuty:
		if endpoint == "" {
			endpoint = DefaultPagerDutyURL
		}
		body, err = marshal(pagerDutyBody(t.RoutingKey, e))
	}
	if err != nil {
		// Encoding these types cannot fail but for a bug; it would fail every time.
		return nil, &permanentError{fmt.Errorf("hook: %s: encoding the body: %w", t.Kind, err)}
	}

	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, m, endpoint, r)
	if err != nil {
		// NewRequest's errors may quote the URL; check has vetted it, so this is a
		// method or URL net/http rejects for its own reasons.
		return nil, invalid("%s: the request cannot be built from this target", t.Kind)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", userAgent)
	// Configured headers come after the defaults, so a configured Content-Type or
	// User-Agent replaces the default rather than being sent next to it.
	replaced := map[string]bool{}
	for _, h := range headers {
		if !replaced[h.name] {
			req.Header.Del(h.name)
			replaced[h.name] = true
		}
		req.Header.Add(h.name, h.value)
	}
	if e.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", e.IdempotencyKey)
	}
	return req, nil
}

func newJSONEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	// Receivers are not browsers; "<" in a canary name should arrive as "<".
	enc.SetEscapeHTML(false)
	return enc
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := newJSONEncoder(&b).Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// slackEscaper escapes the three characters Slack reads as markup in message text
// (https://api.slack.com/reference/surfaces/formatting#escaping), so that a canary
// named "<nightly> & co" shows as typed.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackBody is a Slack incoming-webhook message: the summary, and the canary's page on
// a line of its own, which Slack turns into a link.
func slackBody(e Event) any {
	text := slackEscaper.Replace(e.Summary)
	if e.Canary != nil && e.Canary.URL != "" {
		text += "\n" + slackEscaper.Replace(e.Canary.URL)
	}
	return struct {
		Text string `json:"text"`
	}{text}
}

// PagerDuty Events API v2 bodies
// (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/).
type (
	pdTrigger struct {
		RoutingKey  string    `json:"routing_key"`
		EventAction string    `json:"event_action"`
		DedupKey    string    `json:"dedup_key"`
		Payload     pdPayload `json:"payload"`
		Links       []pdLink  `json:"links,omitempty"`
	}
	pdPayload struct {
		Summary       string    `json:"summary"`
		Source        string    `json:"source"`
		Severity      string    `json:"severity"`
		Timestamp     string    `json:"timestamp,omitempty"`
		CustomDetails pdDetails `json:"custom_details"`
	}
	pdDetails struct {
		Canary *Canary `json:"canary,omitempty"`
		Event  string  `json:"event"`
		Text   string  `json:"text,omitempty"`
	}
	pdLink struct {
		Href string `json:"href"`
		Text string `json:"text"`
	}
	// pdResolve is all a resolve carries: the API ignores (and documents no) payload.
	pdResolve struct {
		RoutingKey  string `json:"routing_key"`
		EventAction string `json:"event_action"`
		DedupKey    string `json:"dedup_key"`
	}
)

// pagerDutyBody maps e onto an Events API v2 event. The dedup key is per canary, so a
// canary's late, still-late and failed events are one incident, and its resumed event
// resolves it.
func pagerDutyBody(routingKey string, e Event) any {
	dedup := "coal-mine-cluster"
	switch {
	case e.Canary != nil:
		dedup = "coal-mine-" + e.Canary.ID
	case e.Event == "test":
		// A test gets an incident of its own: under coal-mine-cluster it would open
		// an incident that a real outage, arriving while it is still open, would be
		// merged into instead of paging. Tests sent by hand may have no Seq, so the
		// idempotency key (unique per send) names it when there is one.
		id := e.IdempotencyKey
		if id == "" {
			id = strconv.FormatUint(e.Seq, 10)
		}
		dedup = truncate("coal-mine-test-"+id, maxDedupKey)
	}
	if e.Event == "resumed" {
		return pdResolve{RoutingKey: routingKey, EventAction: "resolve", DedupKey: dedup}
	}
	severity := "critical"
	switch e.Event {
	case "failed", "late", "overran", "repeat", "outage":
	case "test":
		severity = "info"
	default:
		// An event kind added after this package: still page, since missing an
		// alert is worse than a mis-ranked one, but below the known failures.
		severity = "error"
	}
	p := pdTrigger{
		RoutingKey:  routingKey,
		EventAction: "trigger",
		DedupKey:    dedup,
		Payload: pdPayload{
			Summary:  truncate(e.Summary, maxSummary),
			Source:   "coal-mine",
			Severity: severity,
			CustomDetails: pdDetails{
				Canary: e.Canary,
				Event:  e.Event,
				Text:   e.Text,
			},
		},
	}
	if p.Payload.Summary == "" {
		// The API rejects an empty summary, permanently; an event name beats a 400.
		p.Payload.Summary = "coal-mine: " + e.Event
	}
	if !e.At.IsZero() {
		p.Payload.Timestamp = e.At.UTC().Format(time.RFC3339)
	}
	if e.Canary != nil && e.Canary.URL != "" {
		p.Links = []pdLink{{Href: e.Canary.URL, Text: "canary"}}
	}
	return p
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return trimPartialRune(s[:n])
}

// trimPartialRune drops a multi-byte character cut short at the end of s, which a
// byte bound leaves behind; it would be invalid UTF-8 in JSON and logs.
func trimPartialRune(s string) string {
	for i := 1; i < utf8.UTFMax && i <= len(s); i++ {
		c := s[len(s)-i]
		if !utf8.RuneStart(c) {
			continue
		}
		if c >= utf8.RuneSelf && !utf8.FullRuneInString(s[len(s)-i:]) {
			return s[:len(s)-i]
		}
		break
	}
	return s
}

// readResponse keeps the first maxResponse bytes of the answer and drains up to
// maxDrain more, so that the keep-alive connection goes back to the pool.
func readResponse(res *http.Response) Response {
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	_, _ = io.CopyN(io.Discard, res.Body, maxDrain)
	return Response{
		Status:     res.StatusCode,
		Body:       trimPartialRune(string(b)),
		RetryAfter: retryAfter(res.Header.Get("Retry-After"), time.Now()),
	}
}

// retryAfter parses a Retry-After value: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// statusError classifies an answer. The answer's body is not in the error: servers
// echo the request path in error pages ("Cannot POST /hooks/T0/B0/secret"), and the
// path is the secret; it is in Response.Body for whoever needs it.
func statusError(kind string, status int) error {
	if status >= 200 && status <= 299 {
		return nil
	}
	text := strconv.Itoa(status)
	if st := http.StatusText(status); st != "" {
		text += " " + st
	}
	err := fmt.Errorf("hook: %s answered HTTP %s", kind, text)
	if status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests {
		return err
	}
	return &permanentError{err}
}

// transportError rewrites the client's error without the URL: *url.Error quotes it,
// so only its Op and inner error are kept. Every transport failure is transient.
func transportError(kind string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("hook: %s: %s: %w", kind, ue.Op, ue.Err)
	}
	return fmt.Errorf("hook: %s: %w", kind, err)
}

// redact is the last line of defence: should any error text still hold a secret of
// t's (a transport error quoting a redirect's URL, say), it is replaced.
func redact(err error, t Target) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	out := msg
	for _, s := range secrets(t) {
		out = strings.ReplaceAll(out, s, "[redacted]")
	}
	if out == msg {
		return err
	}
	return &redactedError{msg: out, err: err}
}

// secrets are the parts of t an error must not show. Short strings are left out:
// replacing "/" or a two-letter value would garble messages and protect nothing.
func secrets(t Target) []string {
	var s []string
	add := func(v string) {
		if len(v) >= 6 {
			s = append(s, v)
		}
	}
	add(t.URL)
	add(t.RoutingKey)
	if u, err := url.Parse(t.URL); err == nil {
		add(u.Path)
		add(u.EscapedPath())
		add(u.RawQuery)
		if p, ok := u.User.Password(); ok {
			add(p)
		}
	}
	for _, line := range t.Headers {
		if _, v, ok := strings.Cut(line, ":"); ok {
			add(strings.TrimSpace(v))
		}
	}
	return s
}

// redactedError has a cleaned text. It answers errors.Is as the original did (so
// ErrPermanent and context.DeadlineExceeded still match), but does not unwrap: the
// original's text is what must not get out.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }
