package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
)

// The runs command: the runs a canary's job reported with start and end signals.

func newRunsCmd(a *app) *cobra.Command {
	var sel canarySelector
	cmd := &cobra.Command{
		Use:   "runs --id ID | --name NAME | --slug SLUG",
		Short: "Show a canary's recent runs: start, end, exit status and output",
		Long: `Show the runs of a canary's job, newest first (the server keeps the last 100): when
each started and ended, how long it took, its exit status and the first line of its
output. Runs are what 'cmcli run' (or the /<id>/start and /<id>/<status> ping URLs)
reports. --json prints the server's answer, with each run's whole output.`,
		Example: "  cmcli runs --slug nightly-backup\n  cmcli runs --id aseprogj --json | jq -r '.runs[0].output'",
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			return a.call(cmd, "runs", selectorParams(sel, optionalString{}), false, false, (*printer).printRuns)
		}),
	}
	addSelectorFlags(cmd, &sel)
	return cmd
}

// runJSON is one run of a runs response; absent keys stay nil.
type runJSON struct {
	RID        string   `json:"rid"`
	State      string   `json:"state"`
	Started    string   `json:"started"`
	Ended      string   `json:"ended"`
	Duration   *float64 `json:"duration"`
	ExitStatus *int     `json:"exit_status"`
	Output     string   `json:"output"`
}

// maxOutputCell keeps the table readable when a job's first line is long.
const maxOutputCell = 60

// printRuns shows a runs response as a table, in the server's order (newest first).
func (p *printer) printRuns(body []byte) error {
	var resp struct {
		Runs []runJSON `json:"runs"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("decoding the server's answer: %w", err)
	}
	if len(resp.Runs) == 0 {
		p.printf("No runs recorded.\n")
		return nil
	}
	header := []string{"STARTED", "ENDED", "DURATION", "EXIT", "STATE", "OUTPUT"}
	var rows [][]cell
	for _, r := range resp.Runs {
		duration, exit := "-", "-"
		if r.Duration != nil {
			duration = shortSeconds(*r.Duration)
		}
		if r.ExitStatus != nil {
			exit = fmt.Sprint(*r.ExitStatus)
		}
		state := r.State
		style := styleNone
		if state == "failed" {
			style = styleAlert
		}
		rows = append(rows, []cell{
			{text: runTime(r.Started)},
			{text: runTime(r.Ended)},
			{text: duration},
			{text: exit},
			{text: state, style: style},
			{text: firstLine(r.Output, maxOutputCell)},
		})
	}
	p.renderTable(header, rows)
	p.printf("%d run%s\n", len(resp.Runs), plural(len(resp.Runs), "", "s"))
	return nil
}

// runTime shows a run's moment to the second, in UTC so rows compare at a glance
// whatever the server's or the reader's zone.
func runTime(stamp string) string {
	if stamp == "" {
		return "-"
	}
	t, ok := parseAPITime(stamp)
	if !ok {
		return stamp
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// shortSeconds shows a job's duration: tenths of a second for short runs, where
// they matter, and humanDuration's units beyond a minute.
func shortSeconds(seconds float64) string {
	if seconds < 60 {
		return fmt.Sprintf("%.1fs", seconds)
	}
	return humanDuration(secondsDuration(seconds))
}

// firstLine is the first non-blank line of a job's output, cut to max runes. Control
// characters are replaced: the output is the job's, and escape sequences in it must
// not reach the terminal.
func firstLine(output string, max int) string {
	var line string
	for l := range strings.Lines(output) {
		if strings.TrimSpace(l) != "" {
			line = strings.TrimSpace(l)
			break
		}
	}
	line = strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case unicode.IsControl(r):
			return '?'
		}
		return r
	}, line)
	if utf8.RuneCountInString(line) > max {
		runes := []rune(line)
		line = string(runes[:max-1]) + "…"
	}
	return line
}
