package propose

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/coal-mine/coal-mine/fsm"
)

// The relay's wire format: what a follower sends the leader over the nodes' RPC
// (cluster.Node.Forward), and what comes back. It is not the Raft log's framing: the
// leader stamps the commands and commits them in entries of its own making.
//
//	request:  format u8 | JSON array of commands, unstamped
//	response: format u8 | count uvarint | count results
//	result:   flags u8 | [error code u8 | message] | [canary] | [import outcome JSON] | [failure]
//
// where the failure is the message of a command the leader could not commit (or does
// not know it committed), in which case the result carries nothing else;
// where a message, a canary (fsm.Canary.MarshalBinary) and JSON are each a uvarint
// length and that many bytes. A canary crosses in the snapshot's own encoding, so a
// relayed answer renders exactly as a local one.
const (
	wireFormat = 1
	// maxWireItem caps one length read from the wire, so that damage fails cleanly.
	maxWireItem = 64 << 20
)

// relayedErrors are the named errors a result can carry, by wire code (index + 1). New
// errors are appended, never reordered.
var relayedErrors = []error{
	fsm.ErrNotFound, fsm.ErrAlreadyExists, fsm.ErrIDTaken, fsm.ErrAlreadyPaused, fsm.ErrAlreadyUnpaused,
	fsm.ErrNoUpdates, fsm.ErrInvalid, fsm.ErrBadCommand,
}

const (
	resultCanary byte = 1 << iota
	resultRecovered
	resultUnpaused
	resultChanged
	resultErr
	resultImport
	resultUncommitted
)

// ErrUncommitted is what a relayed command answers when the leader could not commit it,
// or does not know whether it did (leadership moved while it was in flight): it may or
// may not be applied, and is not sent again.
var ErrUncommitted = errors.New("the leader could not commit the command")

var errBadWire = errors.New("bad relay message")

func encodeCommands(cmds []fsm.Command) ([]byte, error) {
	body, err := json.Marshal(cmds)
	if err != nil {
		return nil, fmt.Errorf("encode relayed commands: %w", err)
	}
	return append([]byte{wireFormat}, body...), nil
}

func decodeCommands(data []byte) ([]fsm.Command, error) {
	if len(data) == 0 || data[0] != wireFormat {
		return nil, fmt.Errorf("%w: unknown format", errBadWire)
	}
	var cmds []fsm.Command
	if err := json.Unmarshal(data[1:], &cmds); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadWire, err)
	}
	return cmds, nil
}

// encodeResults frames the outcomes of relayed commands.
func encodeResults(outs []outcome) ([]byte, error) {
	buf := []byte{wireFormat}
	buf = binary.AppendUvarint(buf, uint64(len(outs)))
	for _, out := range outs {
		if out.err != nil {
			buf = append(buf, resultUncommitted)
			buf = appendBytes(buf, []byte(out.err.Error()))
			continue
		}
		r := out.res
		var flags byte
		for _, f := range []struct {
			set  bool
			flag byte
		}{
			{r.Canary != nil, resultCanary}, {r.Recovered, resultRecovered}, {r.Unpaused, resultUnpaused},
			{r.Changed, resultChanged}, {r.Err != nil, resultErr}, {r.Import != nil, resultImport},
		} {
			if f.set {
				flags |= f.flag
			}
		}
		buf = append(buf, flags)
		if r.Err != nil {
			buf = append(buf, errorCode(r.Err))
			buf = appendBytes(buf, []byte(r.Err.Error()))
		}
		if r.Canary != nil {
			c, err := r.Canary.MarshalBinary()
			if err != nil {
				return nil, err
			}
			buf = appendBytes(buf, c)
		}
		if r.Import != nil {
			body, err := json.Marshal(r.Import)
			if err != nil {
				return nil, fmt.Errorf("encode import outcome: %w", err)
			}
			buf = appendBytes(buf, body)
		}
	}
	return buf, nil
}

// decodeResults reads what encodeResults wrote, all of it. An error keeps its message
// and still matches its named error with errors.Is.
func decodeResults(data []byte) ([]outcome, error) {
	r := wireReader{b: data}
	if r.byte() != wireFormat && r.err == nil {
		return nil, fmt.Errorf("%w: unknown results format", errBadWire)
	}
	n := r.uvarint()
	outs := make([]outcome, 0, min(n, 1<<16))
	for i := uint64(0); i < n && r.err == nil; i++ {
		flags := r.byte()
		if flags == resultUncommitted {
			outs = append(outs, outcome{err: fmt.Errorf("%w: %s", ErrUncommitted, r.bytes())})
			continue
		}
		res := fsm.Result{
			Recovered: flags&resultRecovered != 0,
			Unpaused:  flags&resultUnpaused != 0,
			Changed:   flags&resultChanged != 0,
		}
		if flags&resultErr != 0 {
			code := r.byte()
			res.Err = &relayedError{msg: string(r.bytes()), named: namedError(code)}
		}
		if flags&resultCanary != 0 {
			c := new(fsm.Canary)
			if b := r.bytes(); r.err == nil {
				r.fail(c.UnmarshalBinary(b))
			}
			res.Canary = c
		}
		if flags&resultImport != 0 {
			res.Import = new(fsm.ImportOutcome)
			if b := r.bytes(); r.err == nil {
				r.fail(json.Unmarshal(b, res.Import))
			}
		}
		outs = append(outs, outcome{res: res})
	}
	if r.err == nil && len(r.b) > 0 {
		r.fail(errors.New("trailing bytes"))
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: results: %v", errBadWire, r.err)
	}
	return outs, nil
}

func appendBytes(buf, b []byte) []byte {
	return append(binary.AppendUvarint(buf, uint64(len(b))), b...)
}

// wireReader reads a message, remembering the first error.
type wireReader struct {
	b   []byte
	err error
}

func (r *wireReader) fail(err error) {
	if r.err == nil && err != nil {
		r.err = err
	}
}

func (r *wireReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail(errors.New("truncated"))
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *wireReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errors.New("truncated or bad length"))
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wireReader) bytes() []byte {
	n := r.uvarint()
	if r.err == nil && (n > maxWireItem || n > uint64(len(r.b))) {
		r.fail(fmt.Errorf("length %d past the end", n))
	}
	if r.err != nil {
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
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
