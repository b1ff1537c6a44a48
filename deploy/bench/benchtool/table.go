package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
)

// benchResult is the part of a `cmcli bench --json` report the table shows.
type benchResult struct {
	RequestsPerSecond float64          `json:"requests_per_second"`
	Requests          int64            `json:"requests"`
	Errors            int64            `json:"errors"`
	ErrorsByKind      map[string]int64 `json:"errors_by_kind"`
	Rate              float64          `json:"rate"`
	ClientCPUCores    float64          `json:"client_cpu_cores"`
	Connections       int              `json:"connections"`
	// From <file>.cpu.json, measured by run.sh over warm-up and run together.
	ServerCPUCores float64 `json:"server_cpu_cores"`
	RaftEntries    float64 `json:"raft_entries_per_second"`
	LatencyMS      struct {
		P50 float64 `json:"p50"`
		P99 float64 `json:"p99"`
		Max float64 `json:"max"`
	} `json:"latency_ms"`
}

// scenario is one row: run.sh writes its report to DIR/<file>.json.
type scenario struct {
	file   string
	label  string
	etcd   string // the etcd row with the same load, for the ratio
	leader string // for a follower: the leader row, for the follower/leader ratio
}

// labelFor is the row's label, with the connections the report used where it has %d.
func (s scenario) labelFor(r benchResult) string {
	if strings.Contains(s.label, "%d") {
		return fmt.Sprintf(s.label, r.Connections)
	}
	return s.label
}

var scenarios = []scenario{
	{file: "leader-32", label: "coal-mine leader, 32 conns", etcd: "etcd-32"},
	{file: "follower-32", label: "coal-mine follower, 32 conns", etcd: "etcd-32", leader: "leader-32"},
	{file: "leader-1", label: "coal-mine leader, 1 conn", etcd: "etcd-1"},
	{file: "etcd-32", label: "etcd leader, 32 conns"},
	{file: "etcd-1", label: "etcd leader, 1 conn"},
	{file: "late-load", label: "coal-mine leader, 32 conns, during the late test"},
	{file: "storm-load", label: "coal-mine leader, %d conns, during the storm test"},
	{file: "scale-load", label: "coal-mine leader, 32 conns, with the scale canaries"},
	{file: "scale-backup-load", label: "the same, during a backup"},
}

// printTable prints the rows whose reports exist in dir, then the late-detection,
// storm and scale summaries if there are some.
func printTable(w io.Writer, dir string) error {
	results := map[string]benchResult{}
	for _, s := range scenarios {
		data, err := os.ReadFile(filepath.Join(dir, s.file+".json"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading a result: %w", err)
		}
		var r benchResult
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("%s.json: %w", s.file, err)
		}
		// run.sh measures the servers' CPU beside the report, when it can.
		if cpu, err := os.ReadFile(filepath.Join(dir, s.file+".cpu.json")); err == nil {
			if err := json.Unmarshal(cpu, &r); err != nil {
				return fmt.Errorf("%s.cpu.json: %w", s.file, err)
			}
		}
		results[s.file] = r
	}
	if err := writeTable(w, results); err != nil {
		return err
	}
	var late lateReport
	if found, err := readReport(dir, "late.json", &late); err != nil {
		return err
	} else if found {
		fmt.Fprintln(w)
		if err := writeLateSummary(w, late); err != nil {
			return err
		}
	}
	var storm lateReport
	if found, err := readReport(dir, "storm.json", &storm); err != nil {
		return err
	} else if found {
		var load *benchResult
		if r, ok := results["storm-load"]; ok {
			load = &r
		}
		fmt.Fprintln(w)
		if err := writeStormSummary(w, storm, load); err != nil {
			return err
		}
	}
	var scale scaleReport
	var ops scaleOps
	if found, err := readReport(dir, "scale-import.json", &scale); err != nil || !found {
		return err
	}
	if _, err := readReport(dir, "scale-ops.json", &ops); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return writeScaleSummary(w, scale, ops)
}

// readReport decodes dir/name into out; found is false when there is no such file.
func readReport(dir, name string, out any) (found bool, err error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", name, err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return false, fmt.Errorf("%s: %w", name, err)
	}
	return true, nil
}

func writeTable(w io.Writer, results map[string]benchResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\treq/s\tp50 ms\tp99 ms\tmax ms\terrors\tCPU cores (servers+client)\twrites per Raft entry\tratio to etcd")
	for _, s := range scenarios {
		r, ok := results[s.file]
		if !ok {
			continue
		}
		ratio := "-"
		if e, ok := results[s.etcd]; ok && e.RequestsPerSecond > 0 {
			ratio = fmt.Sprintf("%.2fx", r.RequestsPerSecond/e.RequestsPerSecond)
		}
		if l, ok := results[s.leader]; ok && l.RequestsPerSecond > 0 {
			ratio += fmt.Sprintf(" (%.2fx leader)", r.RequestsPerSecond/l.RequestsPerSecond)
		}
		rate := fmt.Sprintf("%.0f", r.RequestsPerSecond)
		if r.Rate > 0 {
			rate += fmt.Sprintf(" of %g offered", r.Rate)
		}
		cpu := fmt.Sprintf("%.2f", r.ClientCPUCores)
		if r.ServerCPUCores > 0 {
			cpu = fmt.Sprintf("%.2f+%.2f", r.ServerCPUCores, r.ClientCPUCores)
		}
		batch := "-"
		if r.RaftEntries > 0 {
			batch = fmt.Sprintf("%.1f", r.RequestsPerSecond/r.RaftEntries)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.2f\t%.1f\t%s\t%s\t%s\t%s\n",
			s.labelFor(r), rate, r.LatencyMS.P50, r.LatencyMS.P99, r.LatencyMS.Max, errorCell(r), cpu, batch, ratio)
	}
	return tw.Flush()
}

// errorCell is "0" or "12 (HTTP 503 ×10, timeout ×2)".
func errorCell(r benchResult) string {
	if r.Errors == 0 {
		return "0"
	}
	kinds := make([]string, 0, len(r.ErrorsByKind))
	for kind := range r.ErrorsByKind {
		kinds = append(kinds, kind)
	}
	sort.Strings(kinds)
	for i, kind := range kinds {
		kinds[i] = fmt.Sprintf("%s ×%d", kind, r.ErrorsByKind[kind])
	}
	return fmt.Sprintf("%d (%s)", r.Errors, strings.Join(kinds, ", "))
}
