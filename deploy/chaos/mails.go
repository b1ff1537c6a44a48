package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/coal-mine/coal-mine/alerting/smtpsink"
)

// Mails as the sink received them, read back into the transitions they announce.

// parseMails turns what the sink received into one Mail per Message-ID and the count of
// deliveries of a Message-ID already received (allowed resends).
func parseMails(received []smtpsink.Received) (mails []Mail, duplicates int, err error) {
	seen := make(map[string]bool)
	for _, r := range received {
		m, err := parseMail(r)
		if err != nil {
			return nil, 0, err
		}
		if seen[m.MessageID] {
			duplicates++
			continue
		}
		seen[m.MessageID] = true
		mails = append(mails, m)
	}
	sort.Slice(mails, func(i, j int) bool { return mails[i].Seq < mails[j].Seq })
	return mails, duplicates, nil
}

// recentEvents introduces the list of the canary's newest events in a message body.
const recentEvents = "Recent events for this canary:\n\n"

// parseMail reads a message of the form alerting renders: Message-ID
// <coal-mine.<canary id>.<seq>.<kind>@<domain>>, and a body that lists the canary's
// recent events, newest first, each as a time padded to 30 characters and the comment.
func parseMail(r smtpsink.Received) (Mail, error) {
	m := Mail{MessageID: r.MessageID, Subject: r.Subject, Received: r.At}
	id := strings.TrimSuffix(strings.TrimPrefix(r.MessageID, "<coal-mine."), ">")
	id, _, _ = strings.Cut(id, "@")
	parts := strings.Split(id, ".")
	if len(parts) != 3 {
		return m, fmt.Errorf("mail %q: Message-ID is not <coal-mine.<id>.<seq>.<kind>@...>", r.MessageID)
	}
	seq, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return m, fmt.Errorf("mail %q: sequence: %w", r.MessageID, err)
	}
	m.CanaryID, m.Seq, m.Kind = parts[0], seq, parts[2]
	if m.Kind != "late" && m.Kind != "resumed" {
		return m, fmt.Errorf("mail %q: unknown kind %q", r.MessageID, m.Kind)
	}
	body := strings.ReplaceAll(r.Body, "\r\n", "\n")
	_, events, ok := strings.Cut(body, recentEvents)
	if !ok {
		return m, fmt.Errorf("mail %q: no %q in the body", r.MessageID, strings.TrimSpace(recentEvents))
	}
	first, _, _ := strings.Cut(events, "\n")
	if len(first) <= 30 {
		return m, fmt.Errorf("mail %q: recent event line %q", r.MessageID, first)
	}
	m.Newest = strings.TrimSpace(first[30:])
	return m, nil
}
