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

// SMTPNotifier sends messages by SMTP, one connection per message.
type SMTPNotifier struct {
	cfg  SMTPConfig
	dial func(ctx context.Context, network, addr string) (net.Conn, error) // tests replace it
}

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
	conn, err := n.dial(ctx, "tcp", n.addr())
	if err != nil {
		return fmt.Errorf("connect to SMTP server %s: %w", n.addr(), err)
	}
	// The deadline bounds every read and write; closing on cancel ends a send at once
	// when leadership is lost.
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	client, err := smtp.NewClient(conn, n.cfg.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("SMTP server %s: %w", n.addr(), err)
	}
	defer client.Close()
	if err := n.send(client, msg); err != nil {
		return fmt.Errorf("send %s via %s: %w", msg.MessageID, n.addr(), err)
	}
	return nil
}

func (n *SMTPNotifier) send(c *smtp.Client, msg Message) error {
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
	if err := c.Mail(msg.Sender); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := n.rcpt(c, msg); err != nil {
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
	return c.Quit()
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
