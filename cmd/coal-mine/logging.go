package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"gopkg.in/natefinch/lumberjack.v2"
)

// newLogger builds the logger from the [logging] settings: stderr by default, a file,
// or a file rotated by size as the original's RotatingFileHandler.
func newLogger(cfg Config) (*slog.Logger, io.Closer, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel))); err != nil {
		return nil, nil, fmt.Errorf("log level %q: %w", cfg.LogLevel, err)
	}
	var out io.WriteCloser = nopWriteCloser{os.Stderr}
	switch {
	case cfg.LogFile != "" && cfg.LogRotate:
		out = &lumberjack.Logger{
			Filename:   cfg.LogFile,
			MaxSize:    megabytes(cfg.LogMaxSize),
			MaxBackups: cfg.LogBackupCount,
		}
	case cfg.LogFile != "":
		f, err := os.OpenFile(cfg.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("open log file: %w", err)
		}
		out = f
	}
	return slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level})), out, nil
}

// megabytes converts the original's byte size to lumberjack's whole megabytes.
func megabytes(bytes int64) int {
	mb := int((bytes + (1<<20 - 1)) >> 20)
	if mb < 1 {
		mb = 1
	}
	return mb
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
