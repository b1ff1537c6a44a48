package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// crashMarks are what a node's log shows when it crashed or a handler panicked: the Go
// runtime's own lines, and the HTTP server's log of a recovered handler panic.
var crashMarks = []string{"panic:", "fatal error:"}

const recoveredPanic = "panic in HTTP handler"

// scanLogs finds the crash lines in every node log in dir, each with the lines after it.
func scanLogs(dir string) ([]LogFinding, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return nil, fmt.Errorf("scan logs: %w", err)
	}
	sort.Strings(files)
	var out []LogFinding
	for _, path := range files {
		found, err := scanLog(path)
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}

func scanLog(path string) ([]LogFinding, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scan log: %w", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scan log %s: %w", path, err)
	}
	var out []LogFinding
	for i, line := range lines {
		if !isCrashLine(line) {
			continue
		}
		after := lines[i+1 : min(len(lines), i+9)]
		out = append(out, LogFinding{File: filepath.Base(path), Line: i + 1, Text: line, Context: indent(strings.Join(after, "\n"))})
	}
	return out, nil
}

func isCrashLine(line string) bool {
	for _, m := range crashMarks {
		if strings.HasPrefix(line, m) {
			return true
		}
	}
	return strings.Contains(line, recoveredPanic)
}
