package fsm

import "errors"

// Named errors returned (as values, inside Result.Err) by Apply and by the queries. The
// HTTP layer maps them to status codes: ErrNotFound is 404, everything else is 400.
var (
	ErrNotFound        = errors.New("canary not found")
	ErrAlreadyExists   = errors.New("canary already exists")
	ErrIDTaken         = errors.New("canary id already taken")
	ErrAlreadyPaused   = errors.New("canary is already paused")
	ErrAlreadyUnpaused = errors.New("canary is already unpaused")
	ErrNoUpdates       = errors.New("no updates specified")
	ErrInvalid         = errors.New("invalid canary")
	ErrBadCommand      = errors.New("bad command")
)

// invalid wraps ErrInvalid with a message a user can act on.
func invalid(msg string) error {
	return &validationError{msg: msg}
}

type validationError struct{ msg string }

func (e *validationError) Error() string        { return e.msg }
func (e *validationError) Is(target error) bool { return target == ErrInvalid }
