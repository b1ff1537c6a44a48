package fsm

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Results travel from the leader back to a follower that relayed a batch of its clients'
// commands (one request for many triggers instead of one each). The encoding reuses the
// snapshot codec for the canary, so a relayed answer renders exactly as a local one.

const resultsFormat = 1

// relayedErrors are the named errors a result can carry, by wire code (index + 1). New
// errors are appended, never reordered.
var relayedErrors = []error{
	ErrNotFound, ErrAlreadyExists, ErrIDTaken, ErrAlreadyPaused, ErrAlreadyUnpaused,
	ErrNoUpdates, ErrInvalid, ErrBadCommand,
}

const (
	resultCanary byte = 1 << iota
	resultRecovered
	resultUnpaused
	resultChanged
	resultErr
	resultImport
)

// EncodeResults frames the results of a batch for the wire.
func EncodeResults(rs []Result) ([]byte, error) {
	e := encoder{}
	e.byte(resultsFormat)
	e.uvarint(uint64(len(rs)))
	for _, r := range rs {
		var flags byte
		if r.Canary != nil {
			flags |= resultCanary
		}
		if r.Recovered {
			flags |= resultRecovered
		}
		if r.Unpaused {
			flags |= resultUnpaused
		}
		if r.Changed {
			flags |= resultChanged
		}
		if r.Err != nil {
			flags |= resultErr
		}
		if r.Import != nil {
			flags |= resultImport
		}
		e.byte(flags)
		if r.Err != nil {
			e.byte(errorCode(r.Err))
			e.string(r.Err.Error())
		}
		if r.Canary != nil {
			e.canary(r.Canary)
		}
		if r.Import != nil {
			body, err := json.Marshal(r.Import)
			if err != nil {
				return nil, fmt.Errorf("encode import outcome: %w", err)
			}
			e.string(string(body))
		}
	}
	return e.buf, nil
}

// DecodeResults reads what EncodeResults wrote. An error keeps its message and still
// matches its named error with errors.Is.
func DecodeResults(data []byte) ([]Result, error) {
	d := decoder{r: bufio.NewReader(bytes.NewReader(data))}
	if v := d.byte(); d.e == nil && v != resultsFormat {
		return nil, fmt.Errorf("%w: unknown results format %d", ErrBadCommand, v)
	}
	n := d.length()
	rs := make([]Result, 0, min(n, 1<<16))
	for i := 0; i < n && d.e == nil; i++ {
		flags := d.byte()
		r := Result{
			Recovered: flags&resultRecovered != 0,
			Unpaused:  flags&resultUnpaused != 0,
			Changed:   flags&resultChanged != 0,
		}
		if flags&resultErr != 0 {
			code := d.byte()
			r.Err = &relayedError{msg: d.string(), named: namedError(code)}
		}
		if flags&resultCanary != 0 {
			r.Canary = d.canary()
		}
		if flags&resultImport != 0 {
			r.Import = new(ImportOutcome)
			if err := json.Unmarshal([]byte(d.string()), r.Import); err != nil && d.e == nil {
				d.fail(fmt.Errorf("decode import outcome: %w", err))
			}
		}
		rs = append(rs, r)
	}
	if d.e != nil {
		return nil, fmt.Errorf("decode results: %w", d.e)
	}
	if _, err := d.r.ReadByte(); err == nil {
		return nil, fmt.Errorf("decode results: %w: trailing bytes", errCorrupt)
	}
	return rs, nil
}

func errorCode(err error) byte {
	for i, named := range relayedErrors {
		if errors.Is(err, named) {
			return byte(i + 1)
		}
	}
	return 0
}

func namedError(code byte) error {
	if code == 0 || int(code) > len(relayedErrors) {
		return nil
	}
	return relayedErrors[code-1]
}

// relayedError is an error that crossed the wire: the leader's message, and the named
// error it wrapped (nil when it wrapped none, or one this version does not know).
type relayedError struct {
	msg   string
	named error
}

func (e *relayedError) Error() string { return e.msg }
func (e *relayedError) Unwrap() error { return e.named }
