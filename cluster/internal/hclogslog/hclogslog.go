// Package hclogslog sends the logs of hashicorp's libraries (raft, raft-wal, memberlist)
// through log/slog, at the levels an operator wants: their chatty Info goes to Debug.
package hclogslog

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// The libraries talk a lot at Info (every election, every snapshot). Their
// Info goes to slog's Debug; warnings and errors keep their level. The node
// logs the events an operator cares about itself, at Info.

// Logger is an hclog.Logger that logs through slog.
type Logger struct {
	logger  *slog.Logger
	name    string
	implied []any
}

var _ hclog.Logger = (*Logger)(nil)

// New returns an hclog.Logger named name that logs to logger.
func New(logger *slog.Logger, name string) *Logger {
	return &Logger{logger: logger, name: name}
}

func slogLevel(level hclog.Level) slog.Level {
	switch {
	case level >= hclog.Error:
		return slog.LevelError
	case level == hclog.Warn:
		return slog.LevelWarn
	default:
		return slog.LevelDebug
	}
}

func (a *Logger) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off {
		return
	}
	lvl := slogLevel(level)
	ctx := context.Background()
	if !a.logger.Enabled(ctx, lvl) {
		return
	}
	attrs := make([]any, 0, len(a.implied)+len(args)+2)
	attrs = append(attrs, "component", a.name)
	attrs = append(attrs, a.implied...)
	attrs = append(attrs, args...)
	a.logger.Log(ctx, lvl, msg, attrs...)
}

func (a *Logger) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *Logger) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *Logger) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *Logger) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *Logger) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

func (a *Logger) enabled(level hclog.Level) bool {
	return a.logger.Enabled(context.Background(), slogLevel(level))
}

func (a *Logger) IsTrace() bool { return a.enabled(hclog.Trace) }
func (a *Logger) IsDebug() bool { return a.enabled(hclog.Debug) }
func (a *Logger) IsInfo() bool  { return a.enabled(hclog.Info) }
func (a *Logger) IsWarn() bool  { return a.enabled(hclog.Warn) }
func (a *Logger) IsError() bool { return a.enabled(hclog.Error) }

func (a *Logger) ImpliedArgs() []any { return a.implied }

func (a *Logger) With(args ...any) hclog.Logger {
	c := *a
	c.implied = append(append([]any(nil), a.implied...), args...)
	return &c
}

func (a *Logger) Name() string { return a.name }

// Slog is the slog.Logger this one logs to.
func (a *Logger) Slog() *slog.Logger { return a.logger }

func (a *Logger) Named(name string) hclog.Logger {
	c := *a
	if c.name != "" {
		c.name += "." + name
	} else {
		c.name = name
	}
	return &c
}

func (a *Logger) ResetNamed(name string) hclog.Logger {
	c := *a
	c.name = name
	return &c
}

// SetLevel is ignored: the slog handler decides.
func (a *Logger) SetLevel(hclog.Level) {}

func (a *Logger) GetLevel() hclog.Level {
	switch {
	case a.IsDebug():
		return hclog.Debug
	case a.IsWarn():
		return hclog.Warn
	default:
		return hclog.Error
	}
}

func (a *Logger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

func (a *Logger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return &bracketLevelWriter{logger: a.logger, component: a.name}
}

// bracketLevelWriter turns standard-library log lines of the form
// "[WARN] memberlist: text" (memberlist's format) into slog records.
type bracketLevelWriter struct {
	logger    *slog.Logger
	component string
	remote    remoteLineLimiter
}

// NewStdLogger returns a standard-library logger for memberlist, whose lines read
// "[WARN] memberlist: text".
func NewStdLogger(logger *slog.Logger, component string) *log.Logger {
	return log.New(&bracketLevelWriter{logger: logger, component: component}, "", 0)
}

func (w *bracketLevelWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		level, msg := parseBracketLevel(string(line))
		attrs := []any{"component", w.component}
		if level >= slog.LevelWarn {
			log, suppressed := w.remote.allow(msg, time.Now())
			if !log {
				continue
			}
			if suppressed > 0 {
				attrs = append(attrs, "suppressed_since_last", suppressed)
			}
		}
		w.logger.Log(context.Background(), level, msg, attrs...)
	}
	return len(p), nil
}

// remoteLineEvery spaces memberlist's complaints about what a remote address sent
// ("failed to receive: no installed keys could decrypt the message from=..."): anyone
// who can reach the gossip port can send a packet a second, or a hundred thousand, and
// each would be a log line. One line per kind of complaint every 10 s says that it
// happens, from where, and how many were left out.
const remoteLineEvery = 10 * time.Second

// remoteLineLimiter passes a line about a remote peer when no line of its kind (the
// text before "from=" and before any quote) passed in the last remoteLineEvery.
type remoteLineLimiter struct {
	mu    sync.Mutex
	kinds map[string]*remoteLineKind
}

type remoteLineKind struct {
	last       time.Time
	suppressed int
}

// remoteLineKinds bounds the kinds remembered: past it they are forgotten at once.
const remoteLineKinds = 64

func (l *remoteLineLimiter) allow(msg string, now time.Time) (log bool, suppressed int) {
	kind, _, remote := strings.Cut(msg, "from=")
	if !remote {
		return true, 0
	}
	// What the stranger sent may be quoted in the line (a label): it is not the kind.
	kind, _, _ = strings.Cut(kind, `"`)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kinds == nil || len(l.kinds) >= remoteLineKinds {
		l.kinds = make(map[string]*remoteLineKind)
	}
	k := l.kinds[kind]
	if k == nil {
		l.kinds[kind] = &remoteLineKind{last: now}
		return true, 0
	}
	if now.Sub(k.last) < remoteLineEvery {
		k.suppressed++
		return false, 0
	}
	suppressed = k.suppressed
	k.last, k.suppressed = now, 0
	return true, suppressed
}

// parseBracketLevel splits "[LEVEL] msg" into a slog level and the message.
func parseBracketLevel(line string) (slog.Level, string) {
	levels := []struct {
		tag   string
		level slog.Level
	}{
		{"[ERR]", slog.LevelError},
		{"[ERROR]", slog.LevelError},
		{"[WARN]", slog.LevelWarn},
		{"[INFO]", slog.LevelDebug},
		{"[DEBUG]", slog.LevelDebug},
		{"[TRACE]", slog.LevelDebug},
	}
	for _, l := range levels {
		if rest, ok := strings.CutPrefix(line, l.tag); ok {
			return l.level, strings.TrimSpace(rest)
		}
	}
	return slog.LevelDebug, line
}
