package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Reading an original Coal Mine's canaries from `mongoexport --collection canaries`:
// one JSON document per line (or one array with --jsonArray), with MongoDB's
// extended JSON for dates and, in canonical mode, for numbers.

// importCanary is one canary of the import request, in the server's canary JSON.
type importCanary struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Periodicity json.RawMessage `json:"periodicity"` // 3600.0, or a schedule string
	Emails      []string        `json:"emails"`
	Late        bool            `json:"late"`
	Paused      bool            `json:"paused"`
	Deadline    string          `json:"deadline,omitempty"`
	History     [][2]string     `json:"history"` // [timestamp, comment], newest first
}

// mongoCanary is a document as the original's MongoStore keeps it. _id, slug
// (the server derives it from the name) and notify (outbox state of the old
// server) are not carried over.
type mongoCanary struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description *string           `json:"description"`
	Periodicity json.RawMessage   `json:"periodicity"`
	Emails      []string          `json:"emails"`
	Late        bool              `json:"late"`
	Paused      bool              `json:"paused"`
	Deadline    json.RawMessage   `json:"deadline"`
	History     []json.RawMessage `json:"history"`
}

var (
	errMissingField = errors.New("missing field")
	errBadDate      = errors.New("not a date")
	errBadNumber    = errors.New("not a number")
)

// maxDocumentSize bounds one line: a canary with 1000 history entries is well below.
const maxDocumentSize = 64 << 20

// parseMongoExport reads every canary in r.
func parseMongoExport(r io.Reader) ([]importCanary, error) {
	br := bufio.NewReader(r)
	if first, err := peekNonSpace(br); err == nil && first == '[' {
		return parseJSONArray(br)
	}
	var canaries []importCanary
	scanner := bufio.NewScanner(br)
	scanner.Buffer(make([]byte, 0, 64<<10), maxDocumentSize)
	for line := 1; scanner.Scan(); line++ {
		text := bytes.TrimSpace(scanner.Bytes())
		if len(text) == 0 {
			continue
		}
		c, err := convertMongoDocument(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		canaries = append(canaries, c)
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("reading the export: %w", err)
	}
	return canaries, nil
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if !strings.ContainsRune(" \t\r\n\ufeff", rune(b)) {
			return b, br.UnreadByte()
		}
	}
}

func parseJSONArray(r io.Reader) ([]importCanary, error) {
	var docs []json.RawMessage
	if err := json.NewDecoder(r).Decode(&docs); err != nil {
		return nil, fmt.Errorf("reading the export: %w", err)
	}
	canaries := make([]importCanary, 0, len(docs))
	for i, doc := range docs {
		c, err := convertMongoDocument(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		canaries = append(canaries, c)
	}
	return canaries, nil
}

// convertMongoDocument turns one exported document into the server's canary JSON.
func convertMongoDocument(doc []byte) (importCanary, error) {
	var m mongoCanary
	if err := json.Unmarshal(doc, &m); err != nil {
		return importCanary{}, fmt.Errorf("not a canary document: %w", err)
	}
	if m.ID == "" {
		return importCanary{}, fmt.Errorf("%w: id", errMissingField)
	}
	if m.Name == "" {
		return importCanary{}, fmt.Errorf("canary %s: %w: name", m.ID, errMissingField)
	}
	c := importCanary{ID: m.ID, Name: m.Name, Late: m.Late, Paused: m.Paused,
		Emails: m.Emails, History: [][2]string{}}
	if c.Emails == nil {
		c.Emails = []string{}
	}
	if m.Description != nil {
		c.Description = *m.Description
	}
	periodicity, err := convertPeriodicity(m.Periodicity)
	if err != nil {
		return importCanary{}, fmt.Errorf("canary %s: periodicity: %w", m.ID, err)
	}
	c.Periodicity = periodicity
	deadline, ok, err := parseMongoDate(m.Deadline)
	if err != nil {
		return importCanary{}, fmt.Errorf("canary %s: deadline: %w", m.ID, err)
	}
	if ok {
		c.Deadline = formatAPITime(deadline)
	}
	for i, raw := range m.History {
		var event []json.RawMessage
		if err := json.Unmarshal(raw, &event); err != nil || len(event) != 2 {
			return importCanary{}, fmt.Errorf("canary %s: history entry %d is not [date, comment]", m.ID, i+1)
		}
		stamp, ok, err := parseMongoDate(event[0])
		if err != nil || !ok {
			return importCanary{}, fmt.Errorf("canary %s: history entry %d: %w", m.ID, i+1, errBadDate)
		}
		var comment *string
		if err := json.Unmarshal(event[1], &comment); err != nil {
			return importCanary{}, fmt.Errorf("canary %s: history entry %d: comment is not text", m.ID, i+1)
		}
		text := ""
		if comment != nil {
			text = *comment
		}
		c.History = append(c.History, [2]string{formatAPITime(stamp), text})
	}
	return c, nil
}

// convertPeriodicity accepts a number (3600, 3600.0, {"$numberInt": "3600"},
// {"$numberLong": ..}, {"$numberDouble": ..}, {"$numberDecimal": ..}) and returns
// it as a float literal, or a schedule string as is.
func convertPeriodicity(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errMissingField
	}
	var schedule string
	if json.Unmarshal(raw, &schedule) == nil {
		if strings.TrimSpace(schedule) == "" {
			return nil, errMissingField
		}
		return json.RawMessage(raw), nil
	}
	seconds, err := parseMongoNumber(raw)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(pythonFloat(seconds)), nil
}

func parseMongoNumber(raw json.RawMessage) (float64, error) {
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		return f, nil
	}
	var wrapped map[string]string
	if err := json.Unmarshal(raw, &wrapped); err != nil || len(wrapped) != 1 {
		return 0, fmt.Errorf("%w: %s", errBadNumber, raw)
	}
	for key, value := range wrapped {
		switch key {
		case "$numberInt", "$numberLong", "$numberDouble", "$numberDecimal":
			f, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return 0, fmt.Errorf("%w: %s", errBadNumber, raw)
			}
			return f, nil
		}
	}
	return 0, fmt.Errorf("%w: %s", errBadNumber, raw)
}

// parseMongoDate reads a date as mongoexport writes it: {"$date": "<ISO-8601>"}
// (relaxed mode), {"$date": {"$numberLong": "<ms>"}} (canonical mode),
// {"$date": <ms>} (old versions), or a plain ISO-8601 string. The original stored
// naive UTC times, so a time without a zone is UTC. ok is false for null/absent.
func parseMongoDate(raw json.RawMessage) (t time.Time, ok bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, false, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		t, err := parseISOTime(s)
		return t, err == nil, err
	}
	var wrapped struct {
		Date json.RawMessage `json:"$date"`
	}
	if err := json.Unmarshal(raw, &wrapped); err != nil || len(wrapped.Date) == 0 {
		return time.Time{}, false, fmt.Errorf("%w: %s", errBadDate, raw)
	}
	if json.Unmarshal(wrapped.Date, &s) == nil {
		t, err := parseISOTime(s)
		return t, err == nil, err
	}
	ms, err := parseMongoNumber(wrapped.Date)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("%w: %s", errBadDate, raw)
	}
	return time.UnixMilli(int64(ms)).UTC(), true, nil
}

var isoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

func parseISOTime(s string) (time.Time, error) {
	for _, layout := range isoLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %q", errBadDate, s)
}

// formatAPITime writes a time as the server does: UTC, microseconds, explicit
// offset, the fraction left out when zero ("2015-03-19T01:08:44.885000+00:00").
func formatAPITime(t time.Time) string {
	t = t.UTC().Truncate(time.Microsecond)
	out := t.Format("2006-01-02T15:04:05")
	if micros := t.Nanosecond() / 1000; micros != 0 {
		out += fmt.Sprintf(".%06d", micros)
	}
	return out + "+00:00"
}
