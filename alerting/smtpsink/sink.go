// Package smtpsink is an in-memory SMTP server that keeps every message it receives:
// for tests, and for the mail sink of the docker-compose cluster. It speaks enough SMTP
// for net/smtp (EHLO/HELO, AUTH PLAIN accepting anyone, MAIL, RCPT, DATA, RSET, NOOP,
// QUIT) and can be told to fail temporarily, so that senders must retry.
package smtpsink

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limits that keep a misbehaving client from exhausting the sink.
const (
	maxLine       = 64 * 1024
	maxMessage    = 10 << 20
	maxRecipients = 1000
	idleTimeout   = 5 * time.Minute
)

// Received is one message as delivered.
type Received struct {
	At   time.Time `json:"at"`
	From string    `json:"from"` // envelope sender
	To   []string  `json:"to"`   // envelope recipients
	// Data is the message text as received, with LF line ends.
	Data   string              `json:"data"`
	Header map[string][]string `json:"headers"`
	// Subject has its RFC 2047 encoded words decoded.
	Subject   string `json:"subject"`
	MessageID string `json:"message_id"`
	// Body is decoded from its transfer encoding.
	Body string `json:"body"`
}

// Sink is a running SMTP server.
type Sink struct {
	ln      net.Listener
	failing atomic.Bool

	mu       sync.Mutex
	messages []Received
	arrived  chan struct{} // closed and replaced whenever a message arrives
	conns    map[net.Conn]struct{}
	closed   bool

	wg sync.WaitGroup
}

// Start listens on addr ("127.0.0.1:0" for any free port) and serves until Close.
func Start(addr string) (*Sink, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("smtpsink: listen on %s: %w", addr, err)
	}
	s := &Sink{ln: ln, arrived: make(chan struct{}), conns: make(map[net.Conn]struct{})}
	s.wg.Go(s.accept)
	return s, nil
}

// Addr is the address the sink listens on.
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// Messages returns a copy of what was received, oldest first.
func (s *Sink) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Received, len(s.messages))
	copy(out, s.messages)
	return out
}

// Clear forgets every message received.
func (s *Sink) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = nil
}

// WaitFor blocks until at least n messages were received or ctx is done.
func (s *Sink) WaitFor(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		got, arrived := len(s.messages), s.arrived
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return fmt.Errorf("smtpsink: %d of %d messages received: %w", got, n, ctx.Err())
		}
	}
}

// SetFailing makes the sink answer MAIL with 451 (try again later) while on is true.
func (s *Sink) SetFailing(on bool) { s.failing.Store(on) }

// Close stops listening, drops every connection and waits for them to end.
func (s *Sink) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Sink) accept() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.conns[conn] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, conn)
				s.mu.Unlock()
				conn.Close()
			}()
			newSession(s, conn).serve()
		})
	}
}

func (s *Sink) store(from string, to []string, data string) {
	r := parse(data)
	r.At = time.Now().UTC()
	r.From = from
	r.To = to
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, r)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

// parse decodes what a test wants to look at; a message that does not parse keeps
// only its Data.
func parse(data string) Received {
	r := Received{Data: data}
	msg, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		return r
	}
	r.Header = msg.Header
	r.MessageID = msg.Header.Get("Message-ID")
	r.Subject = msg.Header.Get("Subject")
	if subject, err := new(mime.WordDecoder).DecodeHeader(r.Subject); err == nil {
		r.Subject = subject
	}
	var body io.Reader = msg.Body
	switch strings.ToLower(strings.TrimSpace(msg.Header.Get("Content-Transfer-Encoding"))) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, &skipSpace{r: body})
	}
	if b, err := io.ReadAll(body); err == nil {
		r.Body = string(b)
	}
	return r
}

// skipSpace drops the line breaks of a base64 body.
type skipSpace struct{ r io.Reader }

func (s *skipSpace) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
			p[j] = c
			j++
		}
	}
	return j, err
}

// errLineTooLong ends a session whose client sends a line longer than maxLine.
var errLineTooLong = errors.New("line too long")

// session is one SMTP connection.
type session struct {
	sink *Sink
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer

	from    string
	hasFrom bool
	to      []string
}

func newSession(s *Sink, conn net.Conn) *session {
	return &session{sink: s, conn: conn, r: bufio.NewReaderSize(conn, maxLine), w: bufio.NewWriter(conn)}
}

func (ss *session) reply(lines ...string) error {
	for _, l := range lines {
		ss.w.WriteString(l)
		ss.w.WriteString("\r\n")
	}
	return ss.w.Flush()
}

func (ss *session) readLine() (string, error) {
	ss.conn.SetReadDeadline(time.Now().Add(idleTimeout))
	line, err := ss.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", errLineTooLong
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

func (ss *session) resetTransaction() {
	ss.from, ss.hasFrom, ss.to = "", false, nil
}

func (ss *session) serve() {
	if ss.reply("220 smtpsink ESMTP ready") != nil {
		return
	}
	for {
		line, err := ss.readLine()
		if errors.Is(err, errLineTooLong) {
			ss.reply("500 5.5.6 line too long")
			return
		}
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		if quit := ss.command(strings.ToUpper(verb), strings.TrimSpace(arg)); quit {
			return
		}
	}
}

// command answers one command and reports whether the session is over.
func (ss *session) command(verb, arg string) (quit bool) {
	var err error
	switch verb {
	case "HELO":
		ss.resetTransaction()
		err = ss.reply("250 smtpsink")
	case "EHLO":
		ss.resetTransaction()
		err = ss.reply("250-smtpsink", "250-8BITMIME", "250-SMTPUTF8", "250-AUTH PLAIN",
			fmt.Sprintf("250 SIZE %d", maxMessage))
	case "AUTH":
		err = ss.auth(arg)
	case "MAIL":
		err = ss.mail(arg)
	case "RCPT":
		err = ss.rcpt(arg)
	case "DATA":
		err = ss.data()
	case "RSET":
		ss.resetTransaction()
		err = ss.reply("250 2.0.0 OK")
	case "NOOP":
		err = ss.reply("250 2.0.0 OK")
	case "VRFY":
		err = ss.reply("252 2.1.5 cannot verify")
	case "QUIT":
		ss.reply("221 2.0.0 bye")
		return true
	default:
		err = ss.reply("502 5.5.1 command not implemented")
	}
	return err != nil
}

// auth accepts any AUTH PLAIN credentials.
func (ss *session) auth(arg string) error {
	mech, initial, _ := strings.Cut(arg, " ")
	if !strings.EqualFold(mech, "PLAIN") {
		return ss.reply("504 5.5.4 only PLAIN")
	}
	if initial == "" {
		if err := ss.reply("334 "); err != nil {
			return err
		}
		if _, err := ss.readLine(); err != nil {
			return err
		}
	}
	return ss.reply("235 2.7.0 authenticated")
}

func (ss *session) mail(arg string) error {
	addr, ok := pathArg(arg, "FROM:")
	switch {
	case !ok:
		return ss.reply("501 5.5.4 syntax: MAIL FROM:<address>")
	case ss.hasFrom:
		return ss.reply("503 5.5.1 sender already given")
	case ss.sink.failing.Load():
		return ss.reply("451 4.3.0 temporarily failing, try again later")
	}
	ss.from, ss.hasFrom = addr, true
	return ss.reply("250 2.1.0 OK")
}

func (ss *session) rcpt(arg string) error {
	addr, ok := pathArg(arg, "TO:")
	switch {
	case !ok || addr == "":
		return ss.reply("501 5.5.4 syntax: RCPT TO:<address>")
	case !ss.hasFrom:
		return ss.reply("503 5.5.1 need MAIL first")
	case len(ss.to) >= maxRecipients:
		return ss.reply("452 4.5.3 too many recipients")
	}
	ss.to = append(ss.to, addr)
	return ss.reply("250 2.1.5 OK")
}

func (ss *session) data() error {
	if len(ss.to) == 0 {
		return ss.reply("503 5.5.1 need RCPT first")
	}
	if err := ss.reply("354 end data with <CR><LF>.<CR><LF>"); err != nil {
		return err
	}
	ss.conn.SetReadDeadline(time.Now().Add(idleTimeout))
	dot := textproto.NewReader(ss.r).DotReader()
	var b strings.Builder
	if _, err := io.Copy(&b, io.LimitReader(dot, maxMessage+1)); err != nil {
		return err
	}
	if b.Len() > maxMessage {
		if _, err := io.Copy(io.Discard, dot); err != nil {
			return err
		}
		ss.resetTransaction()
		return ss.reply("552 5.3.4 message too big")
	}
	ss.sink.store(ss.from, ss.to, b.String())
	ss.resetTransaction()
	return ss.reply("250 2.0.0 OK queued")
}

// pathArg reads "FROM:<a@b> PARAMS" (or without angle brackets) and returns a@b.
func pathArg(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	if strings.HasPrefix(rest, "<") {
		end := strings.IndexByte(rest, '>')
		if end < 0 {
			return "", false
		}
		return rest[1:end], true
	}
	addr, _, _ := strings.Cut(rest, " ")
	return addr, true
}
