package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Output: a human view (key/value for one canary, tables for lists) or the server's
// JSON. With neither --json nor --human, a terminal gets the human view and
// anything else (a pipe, a file: a script) gets JSON, so scripts never parse tables.

type outputMode int

const (
	outputHuman outputMode = iota
	outputJSON
)

// chooseOutput resolves --json / --human against whether stdout is a terminal.
func chooseOutput(jsonFlag, humanFlag, stdoutIsTerminal bool) outputMode {
	switch {
	case jsonFlag:
		return outputJSON
	case humanFlag:
		return outputHuman
	case stdoutIsTerminal:
		return outputHuman
	default:
		return outputJSON
	}
}

// printer writes command results to stdout.
type printer struct {
	out        io.Writer
	mode       outputMode
	color      bool             // ANSI highlighting (terminal, and NO_COLOR unset)
	noHistory  bool             // --no-history / --terse
	now        func() time.Time // relative times ("in 4m") are relative to this
	triggerURL func(id string) string
}

// printJSON writes body indented, keys and numbers exactly as the server sent them,
// minus the canaries' history when --no-history was given.
func (p *printer) printJSON(body []byte) error {
	if p.noHistory {
		filtered, err := dropHistory(body)
		if err == nil {
			body = filtered
		}
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(body), "", "  "); err != nil {
		// Not JSON (an unexpected server): show it as it came.
		buf.Reset()
		buf.Write(body)
	}
	if !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
		buf.WriteByte('\n')
	}
	_, err := p.out.Write(buf.Bytes())
	return ignoreBrokenPipe(err)
}

// ignoreBrokenPipe keeps `cmcli list | head` from reporting an error, as the
// original did.
func ignoreBrokenPipe(err error) error {
	if err != nil && strings.Contains(err.Error(), "broken pipe") {
		return nil
	}
	return err
}

// jsonField and orderedObject decode a JSON object without losing the order of
// its keys or the spelling of its values, so output stays "exactly the server's".
type jsonField struct {
	Key   string
	Value json.RawMessage
}

type orderedObject []jsonField

var errNotObject = errors.New("not a JSON object")

func parseOrderedObject(data []byte) (orderedObject, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return nil, errNotObject
	}
	var obj orderedObject
	for dec.More() {
		keyTok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := keyTok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, err
		}
		obj = append(obj, jsonField{Key: key, Value: value})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return obj, nil
}

func (o orderedObject) without(key string) orderedObject {
	kept := make(orderedObject, 0, len(o))
	for _, f := range o {
		if f.Key != key {
			kept = append(kept, f)
		}
	}
	return kept
}

func (o orderedObject) encode() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	out := []byte{'{'}
	for i, f := range o {
		if i > 0 {
			out = append(out, ',')
		}
		buf.Reset()
		_ = enc.Encode(f.Key) // encoding a string cannot fail
		out = append(out, bytes.TrimSpace(buf.Bytes())...)
		out = append(out, ':')
		out = append(out, f.Value...)
	}
	return append(out, '}')
}

// dropHistory removes "history" from the canary of a response ("canary") or from
// each canary of a list ("canaries").
func dropHistory(body []byte) ([]byte, error) {
	top, err := parseOrderedObject(body)
	if err != nil {
		return nil, err
	}
	for i, f := range top {
		switch f.Key {
		case "canary":
			canary, err := parseOrderedObject(f.Value)
			if err != nil {
				continue
			}
			top[i].Value = canary.without("history").encode()
		case "canaries":
			var canaries []json.RawMessage
			if err := json.Unmarshal(f.Value, &canaries); err != nil {
				continue
			}
			var parts [][]byte
			for _, c := range canaries {
				if obj, err := parseOrderedObject(c); err == nil {
					c = obj.without("history").encode()
				}
				parts = append(parts, c)
			}
			top[i].Value = append(append([]byte{'['}, bytes.Join(parts, []byte{','})...), ']')
		}
	}
	return top.encode(), nil
}

// printf writes part of a human view.
func (p *printer) printf(format string, args ...any) {
	fmt.Fprintf(p.out, format, args...)
}

// ANSI styles for the human view.
const (
	styleNone  = ""
	styleAlert = "\x1b[1;31m" // LATE, dead nodes
	styleMuted = "\x1b[2m"    // paused
	styleBold  = "\x1b[1m"    // headers, the leader
	styleReset = "\x1b[0m"
)

func (p *printer) styled(style, text string) string {
	if !p.color || style == styleNone || text == "" {
		return text
	}
	return style + text + styleReset
}
