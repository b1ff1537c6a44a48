package alerting

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"
	"sync"
	"time"
)

// SMTPConfig says how to reach the mail server. The zero value is the original's
// smtplib default: localhost:25, no authentication.
type SMTPConfig struct {
	Host string
	Port int
	// Username and Password enable AUTH PLAIN, which is only used over TLS or to
	// localhost (net/smtp refuses otherwise).
	Username, Password string
	// Timeout bounds one send, connection included (default 30s), so a hung server
	// never holds the dispatcher.
	Timeout time.Duration
	// LocalName is the name sent in EHLO (default "localhost").
	LocalName string
	// TLS configures STARTTLS, which is used whenever the server offers it. Nil verifies
	// the server's certificate against Host.
	TLS *tls.Config
	// Logger hears about recipients the server refused for good (nil: slog.Default()).
	Logger *slog.Logger
}

// Defaults of SMTPConfig.
const (
	DefaultSMTPHost    = "localhost"
	DefaultSMTPPort    = 25
	DefaultSMTPTimeout = 30 * time.Second
)

// ErrNoRecipients is returned when the server refused every recipient.
var ErrNoRecipients = errors.New("every recipient was refused")

// SMTPNotifier sends messages by SMTP. It keeps a few connections open between messages:
// when many canaries go late at once, a connection (and a TLS handshake and a login) per
// message would cost more than the messages themselves.
type SMTPNotifier struct {
	cfg  SMTPConfig
	dial func(ctx context.Context, network, addr string) (net.Conn, error) // tests replace it

	mu   sync.Mutex
	idle []*smtpConn
}

// smtpConn is an open SMTP session, greeted and logged in, between transactions.
type smtpConn struct {
	conn      net.Conn
	client    *smtp.Client
	idleSince time.Time
}

// How many sessions stay open between messages, and for how long: servers drop idle
// sessions after a minute or more, so 30 s rarely meets a closed one.
const (
	maxIdleSMTP     = 8
	smtpIdleTimeout = 30 * time.Second
)

// NewSMTPNotifier returns a notifier for cfg, with defaults filled in.
func NewSMTPNotifier(cfg SMTPConfig) *SMTPNotifier {
	if cfg.Host == "" {
		cfg.Host = DefaultSMTPHost
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultSMTPPort
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultSMTPTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var dialer net.Dialer
	return &SMTPNotifier{cfg: cfg, dial: dialer.DialContext}
}

func (n *SMTPNotifier) addr() string {
	return net.JoinHostPort(n.cfg.Host, strconv.Itoa(n.cfg.Port))
}

// Notify sends msg. It gives up when ctx is done or the send timeout passes.
func (n *SMTPNotifier) Notify(ctx context.Context, msg Message) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	if sc := n.takeIdle(); sc != nil {
		err := n.deliver(ctx, sc, msg)
		var reply *textproto.Error
		if err == nil || errors.As(err, &reply) || ctx.Err() != nil {
			return err
		}
		// Not an answer of the server's: the idle session was dropped under us. Once
		// more on a fresh one.
	}
	sc, err := n.connect(ctx)
	if err != nil {
		return err
	}
	return n.deliver(ctx, sc, msg)
}

// connect opens and greets a new session.
func (n *SMTPNotifier) connect(ctx context.Context) (*smtpConn, error) {
	conn, err := n.dial(ctx, "tcp", n.addr())
	if err != nil {
		return nil, fmt.Errorf("connect to SMTP server %s: %w", n.addr(), err)
	}
	sc := &smtpConn{conn: conn}
	err = n.guard(ctx, sc, func() error {
		client, err := smtp.NewClient(conn, n.cfg.Host)
		if err != nil {
			return err
		}
		sc.client = client
		return n.setUp(client)
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("SMTP server %s: %w", n.addr(), err)
	}
	return sc, nil
}

// deliver sends one message on an open session and keeps the session for the next
// message if all went well; any failure closes it.
func (n *SMTPNotifier) deliver(ctx context.Context, sc *smtpConn, msg Message) error {
	if err := n.guard(ctx, sc, func() error { return n.send(sc.client, msg) }); err != nil {
		sc.conn.Close()
		return fmt.Errorf("send %s via %s: %w", msg.MessageID, n.addr(), err)
	}
	n.putIdle(sc)
	return nil
}

// guard runs fn with the context's deadline on every read and write, and closes the
// connection if ctx is cancelled first, so a send ends at once when leadership is lost.
func (n *SMTPNotifier) guard(ctx context.Context, sc *smtpConn, fn func() error) error {
	deadline, _ := ctx.Deadline()
	sc.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { sc.conn.Close() })
	err := fn()
	if !stop() {
		return errors.Join(err, ctx.Err())
	}
	sc.conn.SetDeadline(time.Time{})
	return err
}

func (n *SMTPNotifier) takeIdle() *smtpConn {
	n.mu.Lock()
	defer n.mu.Unlock()
	for len(n.idle) > 0 {
		sc := n.idle[len(n.idle)-1]
		n.idle = n.idle[:len(n.idle)-1]
		if time.Since(sc.idleSince) < smtpIdleTimeout {
			return sc
		}
		sc.conn.Close()
	}
	return nil
}

func (n *SMTPNotifier) putIdle(sc *smtpConn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.idle) >= maxIdleSMTP {
		_ = sc.client.Quit()
		return
	}
	sc.idleSince = time.Now()
	n.idle = append(n.idle, sc)
}

// setUp greets the server, upgrades to TLS when offered and logs in.
func (n *SMTPNotifier) setUp(c *smtp.Client) error {
	if n.cfg.LocalName != "" {
		if err := c.Hello(n.cfg.LocalName); err != nil {
			return fmt.Errorf("hello: %w", err)
		}
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		tlsConfig := n.cfg.TLS
		if tlsConfig == nil {
			tlsConfig = &tls.Config{ServerName: n.cfg.Host}
		}
		if err := c.StartTLS(tlsConfig); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	}
	if n.cfg.Username != "" {
		auth := smtp.PlainAuth("", n.cfg.Username, n.cfg.Password, n.cfg.Host)
		if err := c.Auth(auth); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	return nil
}

// send runs one mail transaction on a set-up session.
func (n *SMTPNotifier) send(c *smtp.Client, msg Message) error {
	if err := c.Mail(msg.Sender); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := n.rcpt(c, msg); err != nil {
		_ = c.Reset()
		return err
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(msg.Bytes()); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	return nil
}

// rcpt names the recipients. A recipient refused for good (5xx) is left out so that the
// others still get the message; the message fails only when none is accepted or the
// refusal is temporary.
func (n *SMTPNotifier) rcpt(c *smtp.Client, msg Message) error {
	accepted := 0
	var refused error
	for _, addr := range msg.Recipients() {
		err := c.Rcpt(addr)
		var tpErr *textproto.Error
		switch {
		case err == nil:
			accepted++
		case errors.As(err, &tpErr) && tpErr.Code >= 500:
			refused = errors.Join(refused, fmt.Errorf("rcpt %s: %w", addr, err))
		default:
			return fmt.Errorf("rcpt %s: %w", addr, err)
		}
	}
	if accepted == 0 {
		return fmt.Errorf("%w: %w", ErrNoRecipients, refused)
	}
	if refused != nil {
		n.cfg.Logger.Warn("recipients refused; sending to the others", "message_id", msg.MessageID, "err", refused)
	}
	return nil
}

// LogNotifier only logs messages: for a server with no e-mail sender configured.
type LogNotifier struct {
	log *slog.Logger
}

// NewLogNotifier returns a notifier that logs to logger (nil: slog.Default()).
func NewLogNotifier(logger *slog.Logger) *LogNotifier {
	if logger == nil {
		logger = slog.Default()
	}
	return &LogNotifier{log: logger}
}

// Notify logs msg and never fails.
func (n *LogNotifier) Notify(_ context.Context, msg Message) error {
	n.log.Info("notification (e-mail not configured)", "subject", msg.Subject, "to", msg.To,
		"message_id", msg.MessageID)
	return nil
}
