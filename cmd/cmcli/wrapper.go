package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// Exit statuses of a job that could not be started, as POSIX shells report them.
const (
	exitCannotExecute = 126
	exitNotFound      = 127
	exitSignalBase    = 128 // a job killed by signal n exits 128+n
)

// outputDrainWait is how long the job's output pipes stay open after it exits.
const outputDrainWait = 2 * time.Second

// runJob runs argv with the process's streams and returns the exit status to pass
// on and how long the job ran. err explains a job that could not be started
// (status is then 126 or 127).
//
// Like system(3), cmcli ignores SIGINT and SIGQUIT while the job runs (the
// terminal sends them to the job too) and passes SIGTERM and SIGHUP, which are
// usually sent to cmcli alone, on to the job. SIGPIPE is caught so that a closed
// stdout (`cmcli run ... | head`) ends the job, as it did when the job wrote to it
// directly, and not cmcli, which still has the job's end to report.
//
// When streams are not files (cmcli keeps the output's tail), the job writes into
// pipes; a descendant that outlives the job and keeps them open would hold cmcli
// forever, so they are closed outputDrainWait after the job exits.
func runJob(argv []string, streams ioStreams) (status int, elapsed time.Duration, err error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = streams.stdin, streams.stdout, streams.stderr
	cmd.WaitDelay = outputDrainWait

	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	defer signal.Stop(signals)

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return startFailureStatus(err), 0, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-signals:
				if sig == syscall.SIGTERM || sig == syscall.SIGHUP {
					_ = cmd.Process.Signal(sig)
				}
			case <-done:
				return
			}
		}
	}()
	waitErr := cmd.Wait()
	elapsed = time.Since(start)
	close(done)
	// Once the job has exited its status is the answer, even if passing its output
	// on failed (a closed stdout) or was cut short by outputDrainWait.
	if waitErr != nil && cmd.ProcessState == nil {
		return exitFailure, elapsed, fmt.Errorf("waiting for %s: %w", argv[0], waitErr)
	}
	return exitStatusOf(cmd.ProcessState), elapsed, nil
}

func startFailureStatus(err error) int {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return exitNotFound
	}
	return exitCannotExecute
}

// exitStatusOf is the job's exit code, or 128+n when signal n killed it.
func exitStatusOf(state *os.ProcessState) int {
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return exitSignalBase + int(ws.Signal())
	}
	return state.ExitCode()
}

// jobComment is the trigger comment for a finished job: "exit 0 in 12.3s".
func jobComment(prefix string, status int, elapsed time.Duration) string {
	comment := fmt.Sprintf("exit %d in %.1fs", status, elapsed.Seconds())
	if prefix != "" {
		comment = prefix + "; " + comment
	}
	return comment
}

// Waits between trigger attempts grow from firstRetryWait to maxRetryWait.
const (
	firstRetryWait = 250 * time.Millisecond
	maxRetryWait   = 2 * time.Second
)

// retryWithin calls try until it succeeds, fails with an error that retrying
// cannot fix, or bound has passed; it never returns later than bound. Each try
// gets a context that ends at the bound.
func retryWithin(ctx context.Context, bound time.Duration, try func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	wait := firstRetryWait
	for {
		err := try(ctx)
		if err == nil || !retryable(err) {
			return err
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
		wait = min(2*wait, maxRetryWait)
	}
}

// retryable tells a passing problem (network, no leader, overload) from an answer
// that will not change (unknown canary, bad request).
func retryable(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode >= 500 || apiErr.StatusCode == http.StatusTooManyRequests ||
			apiErr.StatusCode == http.StatusRequestTimeout
	}
	return true
}
