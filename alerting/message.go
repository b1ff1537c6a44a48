package alerting

import (
	"bytes"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coal-mine/coal-mine/fsm"
)

// Message is one rendered notification.
type Message struct {
	// From is the From header's address: "Coal Mine <sender>".
	From string
	// Sender is the envelope sender, the bare address.
	Sender string
	// To holds the canary's addresses as configured ("a@b" or "Name <a@b>").
	To      []string
	Subject string
	Body    string
	// MessageID is stable per outbox record, so that a message sent again after a
	// crash between send and acknowledgement is recognisably the same one.
	MessageID string
	// Date is when the transition happened.
	Date time.Time
	// Headers are extra header fields.
	Headers map[string]string
}

// WithLinks adds the canary's URLs on publicURL (the server as its users reach it) to
// the message, so whoever reads it can go to the canary at once.
func (m Message) WithLinks(publicURL string, n fsm.Notification) Message {
	if publicURL == "" || n.CanaryID == "" {
		return m
	}
	base := strings.TrimRight(publicURL, "/")
	m.Body += fmt.Sprintf("\nThe canary: %s/ui/canary/%s\nIts ping URL: %s/%s\n", base, n.CanaryID, base, n.CanaryID)
	return m
}

// historyLines is how many recent events a message lists, as the original.
const historyLines = 15

// NewMessage renders an outbox record the way the original Coal Mine worded it.
func NewMessage(n fsm.Notification, sender string) Message {
	sender = bareAddress(sender)
	return Message{
		From:      "Coal Mine <" + sender + ">",
		Sender:    sender,
		To:        slices.Clone(n.Emails),
		Subject:   Subject(n),
		Body:      body(n),
		MessageID: messageID(n, sender),
		Date:      n.At,
		Headers: map[string]string{
			"Auto-Submitted":     "auto-generated",
			"X-Coal-Mine-Canary": n.CanaryID,
			"X-Coal-Mine-Event":  string(n.Kind),
		},
	}
}

// Subject is the original's subject line.
func Subject(n fsm.Notification) string {
	switch n.Kind {
	case fsm.KindLate:
		return "[LATE] " + n.Name + " has not reported"
	case fsm.KindOverran:
		return "[LATE] " + n.Name + " started and has not finished"
	case fsm.KindFailed:
		return "[FAILED] " + n.Name + " reported failure" + exitStatusText(n.ExitStatus)
	case fsm.KindRepeat:
		return "[STILL LATE] " + n.Name + " is still late"
	case fsm.KindMemberDown:
		return "[MEMBER DOWN] coal-mine node " + n.Name + " unreachable since " + pythonTime(n.Deadline)
	case fsm.KindMemberUp:
		return "[MEMBER UP] coal-mine node " + n.Name + " is back"
	case fsm.KindLeaderStuck:
		return "[LEADER STUCK] coal-mine's leader handed over: " + n.Name + " stuck since " + pythonTime(n.Deadline)
	case fsm.KindNotificationsFailing:
		return "[NOTIFICATIONS FAILING] coal-mine cannot deliver to " + n.Name + " since " + pythonTime(n.Deadline)
	case fsm.KindOutage:
		// For an outage, Deadline is when it began and At when it ended.
		return "[OUTAGE] coal-mine could not accept triggers from " + pythonTime(n.Deadline) + " to " + pythonTime(n.At)
	}
	return "[RESUMED] " + n.Name + " is reporting again"
}

// exitStatusText is " (exit status 3)", or "" when the job gave none.
func exitStatusText(status int) string {
	if status < 0 {
		return ""
	}
	return fmt.Sprintf(" (exit status %d)", status)
}

func body(n fsm.Notification) string {
	var b strings.Builder
	switch n.Kind {
	case fsm.KindLate:
		fmt.Fprintf(&b, "The canary %s (%s) was expected to report before %s.\n",
			n.Name, n.CanaryID, pythonTime(n.Deadline))
	case fsm.KindOverran:
		fmt.Fprintf(&b, "The canary %s (%s) started a run that was expected to finish before %s.\n",
			n.Name, n.CanaryID, pythonTime(n.Deadline))
	case fsm.KindFailed:
		fmt.Fprintf(&b, "The canary %s (%s) reported a failure%s at %s.\n",
			n.Name, n.CanaryID, exitStatusText(n.ExitStatus), pythonTime(n.At))
	case fsm.KindMemberDown, fsm.KindMemberUp, fsm.KindNotificationsFailing, fsm.KindLeaderStuck:
		b.WriteString(Subject(n) + ".\nSee /coal-mine/v1/cluster/status and the leader's log.\n")
		return b.String()
	case fsm.KindOutage:
		fmt.Fprintf(&b, "The cluster accepted no writes from %s to %s (UTC): no trigger could be recorded.\n"+
			"Every canary whose deadline fell in that time had it moved by %s, and says so in its history.\n",
			pythonTime(n.Deadline), pythonTime(n.At), n.At.Sub(n.Deadline).Round(time.Second))
		return b.String()
	default:
		since := n.At
		if len(n.History) > 0 {
			since = n.History[0].Time()
		}
		fmt.Fprintf(&b, "The canary %s (%s) is reporting again as of %s.\n",
			n.Name, n.CanaryID, pythonTime(since))
		fmt.Fprintf(&b, "\nThe next trigger for this canary is due before %s.\n",
			pythonTime(n.Deadline))
	}
	b.WriteString("\nRecent events for this canary:\n\n")
	for _, h := range n.History[:min(len(n.History), historyLines)] {
		fmt.Fprintf(&b, "%-30s %s\n", pythonTime(h.Time()), h.Comment)
	}
	return b.String()
}

// pythonTime prints a UTC time as Python's str(datetime) does, which is what the
// original's messages show: the fraction only when it is not zero.
func pythonTime(t time.Time) string {
	t = t.UTC()
	s := t.Format("2006-01-02 15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s
}

// messageID is <coal-mine.<id>.<seq>.<kind>@<sender's domain>>.
func messageID(n fsm.Notification, sender string) string {
	domain := "localhost"
	if at := strings.LastIndexByte(sender, '@'); at >= 0 && at < len(sender)-1 {
		domain = sender[at+1:]
	}
	subject := n.CanaryID
	if subject == "" {
		subject = "cluster" // the cluster's own events belong to no canary
	}
	return fmt.Sprintf("<coal-mine.%s.%d.%s@%s>", subject, n.Seq, n.Kind, domain)
}

// bareAddress takes the address out of "Name <a@b>"; anything unparsable is kept as is.
func bareAddress(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return strings.TrimSpace(s)
}

// Recipients are the envelope recipients: the bare addresses of To.
func (m Message) Recipients() []string {
	out := make([]string, len(m.To))
	for i, to := range m.To {
		out[i] = bareAddress(to)
	}
	return out
}

// Bytes renders the message as RFC 5322 text with CRLF line ends: UTF-8 throughout,
// RFC 2047 encoded words for the subject and display names, and a quoted-printable
// body unless it is short-lined ASCII.
func (m Message) Bytes() []byte {
	var b bytes.Buffer
	header := func(name, value string) { b.WriteString(fold(name + ": " + value)) }
	header("From", m.From)
	to := make([]string, len(m.To))
	for i, addr := range m.To {
		to[i] = encodeAddress(addr)
	}
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	header("Date", date.UTC().Format(time.RFC1123Z))
	header("Message-ID", m.MessageID)
	for _, name := range sortedKeys(m.Headers) {
		header(name, mime.QEncoding.Encode("utf-8", m.Headers[name]))
	}
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	text := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\r", "\n")
	if plainASCII(text) {
		header("Content-Transfer-Encoding", "7bit")
		b.WriteString("\r\n")
		b.WriteString(strings.ReplaceAll(text, "\n", "\r\n"))
		return b.Bytes()
	}
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(text, "\n", "\r\n")))
	qp.Close()
	return b.Bytes()
}

// encodeAddress encodes a non-ASCII display name; an unparsable address is kept as is.
func encodeAddress(s string) string {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return s
	}
	if a.Name == "" {
		return a.Address
	}
	return a.String()
}

// maxLine is RFC 5322's limit on a line, without its CRLF.
const maxLine = 998

// plainASCII reports whether text can go as 7bit: ASCII, no NUL, no overlong line.
func plainASCII(text string) bool {
	for line := range strings.SplitSeq(text, "\n") {
		if len(line) > maxLine {
			return false
		}
		for i := 0; i < len(line); i++ {
			if c := line[i]; c == 0 || c >= utf8.RuneSelf {
				return false
			}
		}
	}
	return true
}

// fold breaks a header field at spaces so that lines stay under 78 characters where
// possible, and ends it with CRLF. Encoded words never contain spaces, so they fold
// between words.
func fold(field string) string {
	const width = 78
	if len(field) <= width {
		return field + "\r\n"
	}
	var b strings.Builder
	line := 0
	for i, word := range strings.Split(field, " ") {
		if i > 0 {
			if line+1+len(word) > width {
				b.WriteString("\r\n ")
				line = 1
			} else {
				b.WriteByte(' ')
				line++
			}
		}
		b.WriteString(word)
		line += len(word)
	}
	b.WriteString("\r\n")
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
