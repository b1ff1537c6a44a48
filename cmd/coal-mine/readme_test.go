package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestREADMESettingsTable: the README's settings table lists every setting with the
// flag, environment variable, INI section and key, and default that config.go uses,
// and nothing config.go does not have.
func TestREADMESettingsTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Settings\n")
	if !ok {
		t.Fatal("README has no Settings section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var rows []string
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| `--") {
			rows = append(rows, line)
		}
	}
	cells := func(row string) []string { return strings.Split(strings.Trim(row, "|"), "|") }

	cfg := defaults()
	known := map[string]bool{}
	for _, s := range settings() {
		known[s.flag] = true
		flag := regexp.MustCompile("`--" + regexp.QuoteMeta(s.flag) + "[` ]")
		var row string
		for _, r := range rows {
			if flag.MatchString(cells(r)[0]) {
				row = r
			}
		}
		if row == "" {
			t.Errorf("--%s is not in the README's settings table", s.flag)
			continue
		}
		c := cells(row)
		if len(c) != 4 {
			t.Errorf("row of --%s has %d columns: %s", s.flag, len(c), row)
			continue
		}
		if !strings.Contains(c[1], "`"+s.env+"`") {
			t.Errorf("--%s: environment %q, want `%s`", s.flag, c[1], s.env)
		}
		if ini := "`[" + s.section + "] " + s.key + "`"; !strings.Contains(c[2], ini) {
			t.Errorf("--%s: coal-mine.ini %q, want %s", s.flag, c[2], ini)
		}
		if def := s.def(&cfg); def != "" && !strings.Contains(c[3], def) {
			t.Errorf("--%s: default %q does not say %q", s.flag, c[3], def)
		}
	}
	for _, r := range rows {
		for _, m := range regexp.MustCompile("`--([a-z-]+)").FindAllStringSubmatch(cells(r)[0], -1) {
			if !known[m[1]] {
				t.Errorf("the README's settings table has --%s, which coal-mine does not", m[1])
			}
		}
	}
}
