package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// canaryJSON is the part of the server's canary JSON the human views show. The keys
// after PeriodicitySchedule are newer than the original server, which sends none of
// them; State is then "" and the views fall back to late and paused.
type canaryJSON struct {
	ID                  string   `json:"id"`
	Name                string   `json:"name"`
	Slug                string   `json:"slug"`
	Description         string   `json:"description"`
	Periodicity         any      `json:"periodicity"` // seconds, a schedule string, or null (cron)
	Emails              []string `json:"emails"`
	Late                bool     `json:"late"`
	Paused              bool     `json:"paused"`
	Deadline            string   `json:"deadline"`
	History             [][]any  `json:"history"`
	PeriodicitySchedule [][]any  `json:"periodicity_schedule"`

	State          string   `json:"state"` // up, started, late, failed, paused
	Cron           string   `json:"cron"`
	TZ             string   `json:"tz"`
	Grace          *float64 `json:"grace"`
	MaxRuntime     *float64 `json:"max_runtime"`
	Started        string   `json:"started"`
	PausedUntil    string   `json:"paused_until"`
	LastDuration   *float64 `json:"last_duration"`
	LastExitStatus *int     `json:"last_exit_status"`
}

// printCanary shows the "canary" of a create/get/update/pause/unpause response.
func (p *printer) printCanary(body []byte) error {
	var resp struct {
		Canary canaryJSON `json:"canary"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("decoding the server's answer: %w", err)
	}
	c := resp.Canary
	now := p.now()
	rows := [][2]string{
		{"Name", c.Name},
		{"ID", c.ID},
		{"Slug", c.Slug},
		{"Description", c.Description},
	}
	if c.Periodicity != nil || c.Cron == "" {
		rows = append(rows, [2]string{"Periodicity", formatPeriodicity(c.Periodicity)})
	}
	rows = appendIf(rows, c.Cron != "", "Cron", c.Cron)
	rows = appendIf(rows, c.TZ != "", "Time zone", c.TZ)
	if c.Grace != nil {
		rows = append(rows, [2]string{"Grace", formatPeriodicity(*c.Grace)})
	}
	if c.MaxRuntime != nil {
		rows = append(rows, [2]string{"Max runtime", formatPeriodicity(*c.MaxRuntime)})
	}
	rows = append(rows,
		[2]string{"Emails", strings.Join(c.Emails, ", ")},
		[2]string{"State", p.styled(c.stateStyle(), c.stateText())},
	)
	rows = appendIf(rows, c.Started != "", "Started", stampWithRelative(c.Started, now))
	rows = appendIf(rows, c.PausedUntil != "", "Paused until", stampWithRelative(c.PausedUntil, now))
	rows = append(rows, [2]string{"Deadline", p.formatDeadline(c.Deadline, c.Paused, now)})
	rows = appendIf(rows, c.LastDuration != nil || c.LastExitStatus != nil, "Last run", c.lastRun())
	if p.triggerURL != nil && c.ID != "" {
		rows = append(rows, [2]string{"Trigger URL", p.triggerURL(c.ID)})
	}
	for _, row := range rows {
		p.printf("%s\n", strings.TrimRight(fmt.Sprintf("%-13s %s", row[0]+":", row[1]), " "))
	}
	if len(c.PeriodicitySchedule) > 0 {
		p.printf("Schedule:\n")
		for _, entry := range c.PeriodicitySchedule {
			if len(entry) == 3 {
				p.printf("  %s - %s  %s\n", anyString(entry[0]), anyString(entry[1]), formatPeriodicity(entry[2]))
			}
		}
	}
	if !p.noHistory {
		p.printf("History:\n")
		var events [][]cell
		for _, event := range c.History {
			if len(event) != 2 {
				continue
			}
			stamp := anyString(event[0])
			events = append(events, []cell{{text: stamp}, {text: relativeTo(stamp, now)}, {text: anyString(event[1])}})
		}
		p.renderRows("  ", events)
	}
	return nil
}

func appendIf(rows [][2]string, cond bool, key, value string) [][2]string {
	if !cond {
		return rows
	}
	return append(rows, [2]string{key, value})
}

// stampWithRelative is "2015-03-19T01:14:00+00:00 (in 4m)".
func stampWithRelative(stamp string, now time.Time) string {
	if rel := relativeTo(stamp, now); rel != "" {
		return stamp + " (" + rel + ")"
	}
	return stamp
}

// lastRun reads like the run wrapper's comment: "exit 3 in 1.2s".
func (c canaryJSON) lastRun() string {
	var parts []string
	if c.LastExitStatus != nil {
		parts = append(parts, fmt.Sprintf("exit %d", *c.LastExitStatus))
	}
	if c.LastDuration != nil {
		parts = append(parts, "in "+shortSeconds(*c.LastDuration))
	}
	return strings.Join(parts, " ")
}

// newServer reports whether the canary came from a server that knows states.
func (c canaryJSON) newServer() bool { return c.State != "" }

// stateText is the server's state, late and failed in capitals as LATE always was
// (they are what a reader looks for); an old server's late and paused otherwise.
func (c canaryJSON) stateText() string {
	switch c.State {
	case "":
		return stateText(c.Late, c.Paused)
	case "late", "failed":
		return strings.ToUpper(c.State)
	}
	return c.State
}

func (c canaryJSON) stateStyle() string {
	switch c.State {
	case "":
		return stateStyle(c.Late, c.Paused)
	case "late", "failed":
		return styleAlert
	case "paused":
		return styleMuted
	}
	return styleNone
}

// printList shows a list response as a table, late canaries highlighted. A server
// that knows states also gets a LAST RUN column and failed canaries counted.
func (p *printer) printList(body []byte) error {
	var resp struct {
		Canaries []canaryJSON `json:"canaries"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("decoding the server's answer: %w", err)
	}
	now := p.now()
	withStates := false
	for _, c := range resp.Canaries {
		withStates = withStates || c.newServer()
	}
	header := []string{"ID", "NAME", "PERIODICITY", "STATE", "DEADLINE", "EMAILS"}
	if withStates {
		header = []string{"ID", "NAME", "PERIODICITY", "STATE", "DEADLINE", "LAST RUN", "EMAILS"}
	}
	var rows [][]cell
	late, failed, paused := 0, 0, 0
	for _, c := range resp.Canaries {
		switch {
		case c.State == "failed":
			failed++
		case c.State == "late", !c.newServer() && c.Late:
			late++
		}
		if c.Paused {
			paused++
		}
		deadline := "-"
		switch {
		case !c.Paused && c.Deadline != "":
			deadline = relativeTo(c.Deadline, now)
		case c.Paused && c.PausedUntil != "":
			deadline = "unpause " + relativeTo(c.PausedUntil, now)
		}
		row := []cell{
			{text: c.ID},
			{text: c.Name},
			{text: c.shortSchedule()},
			{text: c.stateText(), style: c.stateStyle()},
			{text: deadline},
		}
		if withStates {
			last := c.lastRun()
			if last == "" {
				last = "-"
			}
			row = append(row, cell{text: last})
		}
		rows = append(rows, append(row, cell{text: strings.Join(c.Emails, ",")}))
	}
	p.renderTable(header, rows)
	failedNote := ""
	if withStates {
		failedNote = fmt.Sprintf(", %s failed", p.styled(alertIf(failed > 0), fmt.Sprint(failed)))
	}
	p.printf("%d canar%s, %s late%s, %d paused\n", len(resp.Canaries), plural(len(resp.Canaries), "y", "ies"),
		p.styled(alertIf(late > 0), fmt.Sprint(late)), failedNote, paused)
	return nil
}

// shortSchedule fits a table cell: the periodicity, or the cron expression and its
// zone.
func (c canaryJSON) shortSchedule() string {
	if c.Cron == "" {
		return shortPeriodicity(c.Periodicity)
	}
	if c.TZ != "" {
		return c.Cron + " " + c.TZ
	}
	return c.Cron
}

// printTrigger shows a trigger response.
func (p *printer) printTrigger(body []byte) error {
	var resp struct {
		Recovered bool `json:"recovered"`
		Unpaused  bool `json:"unpaused"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("decoding the server's answer: %w", err)
	}
	var notes []string
	if resp.Recovered {
		notes = append(notes, "it was late and has recovered")
	}
	if resp.Unpaused {
		notes = append(notes, "it was paused and is now unpaused")
	}
	if len(notes) == 0 {
		p.printf("Triggered.\n")
	} else {
		p.printf("Triggered; %s.\n", strings.Join(notes, "; "))
	}
	return nil
}

func stateText(late, paused bool) string {
	switch {
	case late && paused:
		return "LATE, paused"
	case late:
		return "LATE"
	case paused:
		return "paused"
	default:
		return "ok"
	}
}

func stateStyle(late, paused bool) string {
	switch {
	case late:
		return styleAlert
	case paused:
		return styleMuted
	default:
		return styleNone
	}
}

func (p *printer) styledState(late, paused bool) string {
	return p.styled(stateStyle(late, paused), stateText(late, paused))
}

func alertIf(b bool) string {
	if b {
		return styleAlert
	}
	return styleNone
}

func (p *printer) formatDeadline(deadline string, paused bool, now time.Time) string {
	if paused || deadline == "" {
		return "none (paused)"
	}
	return deadline + " (" + relativeTo(deadline, now) + ")"
}

// formatPeriodicity shows seconds with their human reading ("3600 seconds (1h)"),
// or a schedule as it is.
func formatPeriodicity(v any) string {
	switch x := v.(type) {
	case float64:
		unit := "seconds"
		if x == 1 {
			unit = "second"
		}
		return fmt.Sprintf("%s %s (%s)", trimFloat(x), unit, humanDuration(secondsDuration(x)))
	case string:
		return x
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

// shortPeriodicity fits a table cell: "1h", or "schedule" for schedules.
func shortPeriodicity(v any) string {
	switch x := v.(type) {
	case float64:
		return humanDuration(secondsDuration(x))
	case string:
		return "schedule"
	default:
		return ""
	}
}

func secondsDuration(seconds float64) time.Duration {
	return time.Duration(seconds * float64(time.Second))
}

func trimFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprint(f)
}

func anyString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

// parseAPITime reads the server's timestamps: "2015-03-19T01:08:44.885182+00:00",
// or the original server's zone-less "2015-03-19T01:08:44.885182" (UTC).
func parseAPITime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// relativeTo shows a timestamp relative to now: "in 4m", "5m ago", "now".
func relativeTo(stamp string, now time.Time) string {
	t, ok := parseAPITime(stamp)
	if !ok {
		return ""
	}
	return relativeTime(t, now)
}

func relativeTime(t, now time.Time) string {
	d := t.Sub(now)
	switch {
	case d > -time.Second && d < time.Second:
		return "now"
	case d > 0:
		return "in " + humanDuration(d)
	default:
		return humanDuration(-d) + " ago"
	}
}

// humanDuration rounds down to at most two units: "45s", "4m30s", "1h5m", "2d3h".
func humanDuration(d time.Duration) string {
	if d < 0 {
		return "-" + humanDuration(-d)
	}
	const day = 24 * time.Hour
	units := []struct {
		size time.Duration
		name string
	}{{day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}}
	for i, u := range units {
		if d < u.size && u.size != time.Second {
			continue
		}
		major := d / u.size
		out := fmt.Sprintf("%d%s", major, u.name)
		if i+1 < len(units) {
			next := units[i+1]
			if minor := (d - major*u.size) / next.size; minor > 0 {
				out += fmt.Sprintf("%d%s", minor, next.name)
			}
		}
		return out
	}
	return "0s"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// cell is one table cell; style highlights it at a terminal.
type cell struct {
	text  string
	style string
}

// renderTable writes rows under a header, in aligned columns.
func (p *printer) renderTable(header []string, rows [][]cell) {
	headerCells := make([]cell, len(header))
	for i, h := range header {
		headerCells[i] = cell{text: h, style: styleBold}
	}
	p.renderRows("", append([][]cell{headerCells}, rows...))
}

// renderRows aligns columns by the width of their text (styles add no width).
func (p *printer) renderRows(indent string, rows [][]cell) {
	var widths []int
	for _, row := range rows {
		for i, c := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c.text))
		}
	}
	for _, row := range rows {
		var line strings.Builder
		line.WriteString(indent)
		for i, c := range row {
			if i > 0 {
				line.WriteString("  ")
			}
			line.WriteString(p.styled(c.style, c.text))
			if i < len(row)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.text)))
			}
		}
		p.printf("%s\n", strings.TrimRight(line.String(), " "))
	}
}
