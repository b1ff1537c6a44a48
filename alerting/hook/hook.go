// Package hook renders one coal-mine notification for one HTTP channel (a generic
// webhook, a Slack incoming webhook or PagerDuty's Events API v2) and sends it.
//
// It knows nothing of Raft or the state machine: the dispatcher turns an outbox record
// into an Event, looks up the channel's Target and calls Send, then decides from the
// error (ErrPermanent or not) whether to retry. Targets hold secrets (the Slack URL is
// a bearer credential, so are routing keys and many webhook URLs and headers), so no
// error this package returns quotes a URL, a routing key or a header value.
package hook

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// Kinds of channel this package sends to.
const (
	KindWebhook   = "webhook"
	KindSlack     = "slack"
	KindPagerDuty = "pagerduty"
)

// DefaultPagerDutyURL is the PagerDuty Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// Limits. They keep one misconfigured channel from costing the leader memory or time.
const (
	// maxTemplate bounds a webhook body template's source.
	maxTemplate = 16 << 10
	// maxRendered bounds a rendered webhook body: a template over one Event has no
	// business producing more, and a runaway one must not build a huge request.
	maxRendered = 1 << 20
	// maxRoutingKey bounds a PagerDuty routing key (they are 32 characters).
	maxRoutingKey = 64
	// maxHeaders bounds how many header lines a webhook may configure.
	maxHeaders = 64
)

// Target is where and how to send: a channel's settings. Fields that do not apply to
// its Kind are ignored, so a form that sends every field does not fail validation.
type Target struct {
	Kind       string
	URL        string   // webhook and slack: required; pagerduty: optional override of DefaultPagerDutyURL (for tests and proxies)
	Method     string   // webhook: GET, POST (default), PUT or PATCH
	Headers    []string // webhook: "Name: value" lines
	Body       string   // webhook: optional Go text/template over Event; empty = the default JSON body
	RoutingKey string   // pagerduty: the Events API v2 integration (routing) key
}

// Canary is what an event says about its canary.
type Canary struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Slug        string    `json:"slug"`
	State       string    `json:"state"` // up, started, late, failed, paused
	Deadline    time.Time `json:"deadline,omitzero"`
	LastTrigger time.Time `json:"last_trigger,omitzero"`
	URL         string    `json:"url,omitempty"` // the canary's page, when the server knows its public URL
}

// Event is one notification, as the default webhook body shows it (documented in its
// field tags).
type Event struct {
	Event          string    `json:"event"`            // late, failed, overran, resumed, repeat, outage, test
	Canary         *Canary   `json:"canary,omitempty"` // nil for cluster events (outage, test)
	At             time.Time `json:"at"`
	Seq            uint64    `json:"seq"`
	IdempotencyKey string    `json:"idempotency_key"` // also sent as the Idempotency-Key header
	Summary        string    `json:"summary"`         // the e-mail's subject line, e.g. "[LATE] Backup has not reported"
	Text           string    `json:"text,omitempty"`  // a longer plain-text explanation
}

// Response is what the far end answered.
type Response struct {
	Status int
	Body   string // at most 4 KiB of it
	// RetryAfter is the answer's Retry-After header (seconds or an HTTP date) as a
	// delay, when there is one: 429 and 503 answers use it to say when to come back.
	// Zero when absent or unparseable.
	RetryAfter time.Duration
}

// ErrPermanent is wrapped by errors that retrying cannot fix: a 4xx answer other than
// 408 and 429, a template that fails to execute, a target that does not validate.
var ErrPermanent = errors.New("permanent failure")

// invalidError is a target that does not validate. It wraps ErrPermanent without
// saying so in its text, which is shown to whoever configures the channel.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return "hook: " + e.msg }
func (e *invalidError) Unwrap() error { return ErrPermanent }

func invalid(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// permanentError marks err as one retrying cannot fix, keeping err's own text and
// chain (errors.Is and errors.As still reach it).
type permanentError struct{ err error }

func (e *permanentError) Error() string   { return e.err.Error() }
func (e *permanentError) Unwrap() []error { return []error{ErrPermanent, e.err} }

// Validate checks a target when a channel is created or updated: kind known; URL
// parses as http or https with a host (required for webhook and slack); method
// allowed; each header "Name: value" with a valid token name and no CR/LF (and not
// Host or Content-Length); body template parses (text/template, with a size bound of
// 16 KiB) AND executes without error on a sample Event; routing key non-empty (<= 64
// printable ASCII) for pagerduty. Errors say exactly what is wrong, never echo a secret
// (no URL, routing key or header value is quoted; header names are). They wrap
// ErrPermanent.
//
// The sample Event has a Canary. Cluster events (outage, test) have none, so a body
// template that uses .Canary unguarded validates yet fails, permanently, for those;
// {{with .Canary}}...{{end}} or {{if .Canary}} guards it.
func Validate(t Target) error {
	_, err := check(t)
	return err
}

// check validates t and returns its parsed body template (nil when it has none or is
// not a webhook), so that Send parses it once.
func check(t Target) (*template.Template, error) {
	switch t.Kind {
	case KindWebhook:
		if err := checkURL(t.URL, true); err != nil {
			return nil, err
		}
		if _, ok := method(t.Method); !ok {
			return nil, invalid("webhook method must be GET, POST, PUT or PATCH")
		}
		if _, err := parseHeaders(t.Headers); err != nil {
			return nil, err
		}
		return checkTemplate(t.Body)
	case KindSlack:
		return nil, checkURL(t.URL, true)
	case KindPagerDuty:
		if err := checkURL(t.URL, false); err != nil {
			return nil, err
		}
		return nil, checkRoutingKey(t.RoutingKey)
	case "":
		return nil, invalid("channel kind is missing (webhook, slack or pagerduty)")
	default:
		if len(t.Kind) > 32 || !printable(t.Kind) {
			return nil, invalid("unknown channel kind (want webhook, slack or pagerduty)")
		}
		return nil, invalid("unknown channel kind %q (want webhook, slack or pagerduty)", t.Kind)
	}
}

// checkURL checks an endpoint. url.Parse's own errors quote the URL, and the URL may
// be the credential (Slack's is), so they are replaced, not wrapped.
func checkURL(raw string, required bool) error {
	if raw == "" {
		if required {
			return invalid("url is required")
		}
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalid("url does not parse as a URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "":
		return invalid("url has no scheme (want http or https)")
	default:
		return invalid("url scheme must be http or https")
	}
	if u.Host == "" || u.Hostname() == "" {
		return invalid("url has no host")
	}
	return nil
}

// method returns the webhook's HTTP method, POST when unset. Methods are taken in any
// case, since users type "post"; what is sent is upper case.
func method(m string) (string, bool) {
	switch m = strings.ToUpper(strings.TrimSpace(m)); m {
	case "":
		return "POST", true
	case "GET", "POST", "PUT", "PATCH":
		return m, true
	}
	return "", false
}

// header is one configured header line, split.
type header struct{ name, value string }

// reservedHeaders are those a webhook may not set: net/http owns the framing ones
// (Host is the request's host, the lengths are computed), and Idempotency-Key is
// always the event's, since receivers deduplicate on it.
var reservedHeaders = map[string]string{
	"Host":              "is taken from the url",
	"Content-Length":    "is computed when sending",
	"Transfer-Encoding": "is chosen when sending",
	"Connection":        "is managed by the HTTP client",
	"Idempotency-Key":   "is always the event's idempotency key",
}

// parseHeaders splits "Name: value" lines. Errors name the line by position and, once
// the name is known to be a token, by name; never the value, which is often a token.
func parseHeaders(lines []string) ([]header, error) {
	if len(lines) > maxHeaders {
		return nil, invalid("too many headers (at most %d)", maxHeaders)
	}
	hs := make([]header, 0, len(lines))
	for i, line := range lines {
		n := i + 1
		if strings.ContainsAny(line, "\r\n") {
			return nil, invalid("header %d contains a line break (CR or LF)", n)
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, invalid("header %d is not of the form \"Name: value\"", n)
		}
		if name == "" {
			return nil, invalid("header %d has an empty name", n)
		}
		if !isToken(name) {
			// Not quoted: a line such as "Bearer abc:def" would put the secret here.
			return nil, invalid("header %d name is not a valid HTTP token (letters, digits and !#$%%&'*+-.^_`|~, no spaces)", n)
		}
		canon := canonical(name)
		if why, ok := reservedHeaders[canon]; ok {
			return nil, invalid("header %d: %s %s and cannot be configured", n, canon, why)
		}
		value = strings.Trim(value, " \t")
		for _, c := range []byte(value) {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				return nil, invalid("header %d (%s) value contains a control character", n, canon)
			}
		}
		hs = append(hs, header{name: canon, value: value})
	}
	return hs, nil
}

// isToken reports whether s is an RFC 9110 token, which a field name must be.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return s != ""
}

// canonical is the header's canonical name (as net/http's CanonicalHeaderKey), so
// "content-type" and "Content-Type" compare equal.
func canonical(name string) string {
	b := []byte(name)
	upper := true
	for i, c := range b {
		if upper && 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			b[i] = c - 'A' + 'a'
		}
		upper = c == '-'
	}
	return string(b)
}

func checkRoutingKey(k string) error {
	if k == "" {
		return invalid("pagerduty routing key is required")
	}
	if len(k) > maxRoutingKey {
		return invalid("pagerduty routing key is longer than %d characters", maxRoutingKey)
	}
	for i := 0; i < len(k); i++ {
		// Spaces too: a key never has them, so one is a paste error.
		if k[i] <= ' ' || k[i] > '~' {
			return invalid("pagerduty routing key must be printable ASCII without spaces")
		}
	}
	return nil
}

// printable reports whether s is printable ASCII, safe to quote in an error.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// sampleEvent is what a body template is tried on when it is validated: every field
// set, so that any field reference that can fail at send time fails now.
var sampleEvent = Event{
	Event: "late",
	Canary: &Canary{
		ID:          "aaaabbbb",
		Name:        "Sample canary",
		Slug:        "sample-canary",
		State:       "late",
		Deadline:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		LastTrigger: time.Date(2026, 1, 1, 3, 4, 5, 0, time.UTC),
		URL:         "https://coal-mine.example/canary/aaaabbbb",
	},
	At:             time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC),
	Seq:            42,
	IdempotencyKey: "coal-mine-42",
	Summary:        "[LATE] Sample canary has not reported",
	Text:           "Sample canary has not reported since 2026-01-01 03:04:05 UTC.",
}

// templateFuncs are the functions a body template may call besides the built-ins.
// json exists because a template writing a JSON body must escape strings (a canary
// named `a"b` would otherwise break it), and text/template has no escaper for JSON.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		var b bytes.Buffer
		enc := newJSONEncoder(&b)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSuffix(b.String(), "\n"), nil
	},
	// printf replaces the built-in: a width or precision such as %999999999s would
	// make fmt build a gigabyte before the output bound could refuse it.
	"printf": func(format string, args ...any) (string, error) {
		for _, m := range formatNumber.FindAllString(format, -1) {
			if n, err := strconv.Atoi(strings.TrimLeft(m, "%.-+# 0")); err != nil || n > maxFormatNumber {
				return "", fmt.Errorf("printf: a width or precision is at most %d", maxFormatNumber)
			}
		}
		return fmt.Sprintf(format, args...), nil
	},
}

// formatNumber finds the widths and precisions of a printf format; maxFormatNumber
// bounds them.
var formatNumber = regexp.MustCompile(`%[-+# 0]*[0-9]+|\.[0-9]+`)

const maxFormatNumber = 10000

// checkTemplate parses a webhook body template and tries it on sampleEvent. An empty
// body means the default JSON one, and yields nil.
func checkTemplate(body string) (*template.Template, error) {
	if body == "" {
		return nil, nil
	}
	if len(body) > maxTemplate {
		return nil, invalid("webhook body template is longer than %d bytes", maxTemplate)
	}
	tmpl, err := template.New("body").Funcs(templateFuncs).Parse(body)
	if err != nil {
		return nil, invalid("webhook body template does not parse: %v", err)
	}
	// An event holds nothing to range over, and a range over an integer is a loop
	// that no deadline can stop: it would hold a dispatcher (and a CPU) for good.
	for _, t := range tmpl.Templates() {
		if t.Tree != nil && hasRange(t.Tree.Root) {
			return nil, invalid("webhook body template may not use range")
		}
	}
	if _, err := render(tmpl, sampleEvent); err != nil {
		return nil, invalid("webhook body template fails on a sample event: %v", err)
	}
	return tmpl, nil
}

// hasRange reports whether a template's parse tree holds a range.
func hasRange(n parse.Node) bool {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return false
		}
		for _, c := range n.Nodes {
			if hasRange(c) {
				return true
			}
		}
	case *parse.RangeNode:
		return true
	case *parse.IfNode:
		return hasRange(n.List) || hasRange(n.ElseList)
	case *parse.WithNode:
		return hasRange(n.List) || hasRange(n.ElseList)
	}
	return false
}

// render executes a body template, bounded by maxRendered.
func render(tmpl *template.Template, e Event) ([]byte, error) {
	w := &limitedBuffer{max: maxRendered}
	if err := tmpl.Execute(w, e); err != nil {
		return nil, err
	}
	return w.buf.Bytes(), nil
}

var errTooLarge = fmt.Errorf("output is larger than %d bytes", maxRendered)

// limitedBuffer fails writes past max, which stops the template's execution.
type limitedBuffer struct {
	buf bytes.Buffer
	max int
}

func (w *limitedBuffer) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.max {
		return 0, errTooLarge
	}
	return w.buf.Write(p)
}
