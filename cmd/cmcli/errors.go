package main

import (
	"errors"
	"fmt"
	"strings"
)

// Exit statuses that scripts can rely on.
const (
	exitOK      = 0
	exitFailure = 1 // the server refused, the network failed, a file was unreadable...
	exitUsage   = 2 // the command line was wrong; nothing was sent
)

// errNoCommand is returned when cmcli is run without a command, as the original did.
var errNoCommand = errors.New("no command specified")

// usageError marks a mistake on the command line found by cmcli itself (as opposed
// to one found by cobra while parsing flags, which is a usage error too).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// failure marks an error that happened while a command ran: it exits 1.
type failure struct{ err error }

func (e failure) Error() string { return e.err.Error() }
func (e failure) Unwrap() error { return e.err }

// exitStatus asks for a given exit status without printing anything more; the
// run wrapper uses it to pass the job's status through.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// reportError prints err the way a user should see it and returns the exit status.
// Errors that did not come from inside a command (cobra's flag and argument
// checks) are usage errors.
func reportError(err error, streams ioStreams, commandPath string) int {
	if err == nil {
		return exitOK
	}
	var status exitStatus
	if errors.As(err, &status) {
		return int(status)
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		fmt.Fprintln(streams.stderr, apiErr.Status)
		if msg := strings.TrimSpace(apiErr.Message); msg != "" {
			fmt.Fprintln(streams.stderr, msg)
		}
		return exitFailure
	}
	var usage usageError
	var fail failure
	if errors.As(err, &fail) && !errors.As(err, &usage) {
		fmt.Fprintf(streams.stderr, "cmcli: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(streams.stderr, "cmcli: %v\n", err)
	fmt.Fprintf(streams.stderr, "Run '%s --help' for usage.\n", commandPath)
	return exitUsage
}
