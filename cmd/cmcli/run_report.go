package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// What `cmcli run` tells the server about a run: a start signal before the job and
// its exit status, comment and output after it, paired by a run id (rid).

// startSignalBound is the most the start signal may delay the job: a server that
// is slow or down must not hold up the work the canary watches.
const startSignalBound = 2 * time.Second

// maxReportedOutput is the most output sent with the end signal; the server keeps
// no more (spec: 10,000 bytes), and the end of the output is what explains how a
// job ended, so it is the tail that is kept.
const maxReportedOutput = 10000

// runReport sends one run's signals to one canary.
type runReport struct {
	client *Client
	sel    canarySelector
	rid    string
}

func newRunReport(client *Client, sel canarySelector) runReport {
	return runReport{client: client, sel: sel, rid: rand.Text()}
}

// start sends the start signal, retrying for at most bound.
func (r runReport) start(bound time.Duration) error {
	params := selectorParams(r.sel, optionalString{})
	params.Set("state", "start")
	params.Set("rid", r.rid)
	return retryWithin(context.Background(), bound, func(ctx context.Context) error {
		_, err := r.client.Do(ctx, apiRequest{path: canaryAPI + "trigger", params: params, noAuth: true})
		return err
	})
}

// end sends the job's exit status, comment and output tail, retrying for at most
// bound in all.
func (r runReport) end(bound time.Duration, status int, comment string, output []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	params := selectorParams(r.sel, optionalString{Set: true, Value: comment})
	params.Set("exit_status", strconv.Itoa(status))
	params.Set("rid", r.rid)
	err := retryWithin(ctx, bound, func(ctx context.Context) error {
		_, err := r.client.Do(ctx, apiRequest{method: http.MethodPost, path: canaryAPI + "trigger", params: params,
			noAuth: true, body: bytes.NewReader(output), contentType: "text/plain; charset=utf-8"})
		return err
	})
	if status == 0 && refusedSignal(err) {
		// A server older than signals (an original Coal Mine, an earlier coal-mine)
		// refuses exit_status, rid or the POST; a success is still a trigger to it,
		// as it was before cmcli sent signals.
		plain := selectorParams(r.sel, optionalString{Set: true, Value: comment})
		err = retryWithin(ctx, bound, func(ctx context.Context) error {
			_, err := r.client.Do(ctx, apiRequest{path: canaryAPI + "trigger", params: plain, noAuth: true})
			return err
		})
	}
	return err
}

// refusedSignal tells an answer of a server that does not know signals.
func refusedSignal(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) &&
		(apiErr.StatusCode == http.StatusBadRequest || apiErr.StatusCode == http.StatusMethodNotAllowed)
}

// outputTail keeps the last max bytes written to it. The job's stdout and stderr
// are copied by two goroutines, so writes are locked.
type outputTail struct {
	mu  sync.Mutex
	max int
	buf []byte
	cut bool // bytes were dropped from the front
}

func newOutputTail(max int) *outputTail { return &outputTail{max: max} }

func (t *outputTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	// Dropping only once twice the bound is reached keeps copying amortized.
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
		t.cut = true
	}
	return len(p), nil
}

// Bytes is the tail: at most max bytes, starting on a character when cut.
func (t *outputTail) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, cut := t.buf, t.cut
	if len(b) > t.max {
		b, cut = b[len(b)-t.max:], true
	}
	for i := 0; cut && i < utf8.UTFMax-1 && len(b) > 0 && !utf8.RuneStart(b[0]); i++ {
		b = b[1:]
	}
	return bytes.Clone(b)
}

// teeWriter passes the job's output on to out and keeps a copy in tail. The tail is
// written first so it is complete even when out fails.
type teeWriter struct {
	out  io.Writer
	tail io.Writer
}

func (w teeWriter) Write(p []byte) (int, error) {
	_, _ = w.tail.Write(p)
	return w.out.Write(p)
}
