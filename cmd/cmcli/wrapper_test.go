package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunJobExitStatus(t *testing.T) {
	notExecutable := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(notExecutable, []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		argv       []string
		wantStatus int
		wantErr    bool
	}{
		{"success", []string{"true"}, 0, false},
		{"failure", []string{"false"}, 1, false},
		{"exit code passed through", []string{"sh", "-c", "exit 42"}, 42, false},
		{"killed by SIGTERM", []string{"sh", "-c", "kill -TERM $$"}, 128 + 15, false},
		{"killed by SIGKILL", []string{"sh", "-c", "kill -KILL $$"}, 128 + 9, false},
		{"not found", []string{"/nonexistent/cmcli-test-command"}, 127, true},
		{"not found in PATH", []string{"cmcli-test-no-such-command"}, 127, true},
		{"not executable", []string{notExecutable}, 126, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, err := runJob(tt.argv, ioStreams{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
			if status != tt.wantStatus || (err != nil) != tt.wantErr {
				t.Fatalf("runJob(%q) = %d, %v; want %d (error %v)", tt.argv, status, err, tt.wantStatus, tt.wantErr)
			}
		})
	}
}

func TestRunJobPassesStreams(t *testing.T) {
	var stdout, stderr bytes.Buffer
	status, _, err := runJob([]string{"sh", "-c", "read line; echo \"out:$line\"; echo err >&2"},
		ioStreams{stdin: strings.NewReader("hello\n"), stdout: &stdout, stderr: &stderr})
	if err != nil || status != 0 {
		t.Fatalf("runJob = %d, %v", status, err)
	}
	if stdout.String() != "out:hello\n" || stderr.String() != "err\n" {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

func TestJobComment(t *testing.T) {
	tests := []struct {
		prefix  string
		status  int
		elapsed time.Duration
		want    string
	}{
		{"", 0, 12345 * time.Millisecond, "exit 0 in 12.3s"},
		{"", 0, 20 * time.Millisecond, "exit 0 in 0.0s"},
		{"nightly", 0, 3 * time.Second, "nightly; exit 0 in 3.0s"},
	}
	for _, tt := range tests {
		if got := jobComment(tt.prefix, tt.status, tt.elapsed); got != tt.want {
			t.Errorf("jobComment = %q, want %q", got, tt.want)
		}
	}
}

func TestRetryWithin(t *testing.T) {
	unavailable := &APIError{StatusCode: 503, Status: "503 Service Unavailable"}
	notFound := &APIError{StatusCode: 404, Status: "404 Not Found"}
	network := errors.New("connection refused")
	tests := []struct {
		name        string
		errs        []error // returned by successive tries; the last one repeats
		bound       time.Duration
		wantErr     error
		wantTries   int
		wantAtLeast bool // wantTries is a minimum (the bound decides)
	}{
		{"first try succeeds", []error{nil}, time.Second, nil, 1, false},
		{"recovers from a network error and no leader", []error{network, unavailable, nil}, 5 * time.Second, nil, 3, false},
		{"unknown canary is not retried", []error{notFound}, 5 * time.Second, notFound, 1, false},
		{"gives up at the bound with the last error", []error{network}, 600 * time.Millisecond, network, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tries := 0
			err := retryWithin(context.Background(), tt.bound, func(context.Context) error {
				err := tt.errs[min(tries, len(tt.errs)-1)]
				tries++
				return err
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantAtLeast && tries < tt.wantTries || !tt.wantAtLeast && tries != tt.wantTries {
				t.Fatalf("tries = %d, want %d (at least: %v)", tries, tt.wantTries, tt.wantAtLeast)
			}
		})
	}
}

// TestRunJobDoesNotWaitForOrphans: a job that leaves a background process holding
// its output open still ends when the job exits (plus outputDrainWait), with its
// status.
func TestRunJobDoesNotWaitForOrphans(t *testing.T) {
	start := time.Now()
	var stdout bytes.Buffer
	status, _, err := runJob([]string{"sh", "-c", "sleep 10 & echo left; exit 2"},
		ioStreams{stdin: strings.NewReader(""), stdout: &stdout, stderr: &bytes.Buffer{}})
	if err != nil || status != 2 || stdout.String() != "left\n" {
		t.Fatalf("runJob = %d, %v, stdout %q", status, err, stdout.String())
	}
	if took := time.Since(start); took > outputDrainWait+3*time.Second {
		t.Errorf("runJob took %v: it waited for the orphan", took)
	}
}
