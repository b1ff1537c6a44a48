package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"
)

// scaleReport is what scale-import measured; run.sh keeps it as scale-import.json.
type scaleReport struct {
	Canaries      int     `json:"canaries"`
	History       int     `json:"history_entries_each"`
	ImportSeconds float64 `json:"import_seconds"`
}

// scaleOps is what run.sh measured around the import, as scale-ops.json.
type scaleOps struct {
	RSSAfterImportMB []float64 `json:"rss_mb_after_import"` // per node
	RSSAtEndMB       []float64 `json:"rss_mb_at_end"`
	PeakRSSMB        []float64 `json:"peak_rss_mb"`      // VmHWM before the restart
	SettleSeconds    float64   `json:"settle_seconds"`   // from the import's end until the nodes were idle
	SnapshotSeconds  float64   `json:"snapshot_seconds"` // the backup's snapshot, as the leader logged it
	BackupSeconds    float64   `json:"backup_seconds"`   // cmcli snapshot save on the leader
	RestartSeconds   float64   `json:"restart_seconds"`  // a follower SIGKILLed, to /readyz 200
}

// writeScaleSummary prints the scale figures under the table.
func writeScaleSummary(w io.Writer, r scaleReport, ops scaleOps) error {
	_, err := fmt.Fprintf(w, "scale: %d canaries with %d history entries each (imported in %.1fs, idle %.0fs later)\n"+
		"  resident memory per node (MB)  after the import %s  at the end %s  peak %s\n"+
		"  backup (cmcli snapshot save)   %.2fs on the leader under the load above (the snapshot %.2fs of it)\n"+
		"  follower SIGKILLed, restarted  ready (/readyz 200) after %.2fs\n",
		r.Canaries, r.History, r.ImportSeconds, ops.SettleSeconds, megabytes(ops.RSSAfterImportMB), megabytes(ops.RSSAtEndMB),
		megabytes(ops.PeakRSSMB), ops.BackupSeconds, ops.SnapshotSeconds, ops.RestartSeconds)
	return err
}

func megabytes(values []float64) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = fmt.Sprintf("%.0f", v)
	}
	return strings.Join(parts, "/")
}

// runScaleImport loads a node with many canaries for the scale scenario (issue 5,
// target 3): each with a history of --history entries, one e-mail address, and a
// deadline a month away so that none goes late while the scenario runs.
func runScaleImport(ctx context.Context, w io.Writer, args []string) error {
	var o lateOptions
	var history int
	fs := flag.NewFlagSet("scale-import", flag.ContinueOnError)
	fs.StringVar(&o.node, "node", "", "coal-mine node to import into (the leader)")
	fs.StringVar(&o.authKey, "auth-key", "", "coal-mine auth key")
	fs.StringVar(&o.prefix, "prefix", "scale-", "name prefix of the canaries")
	fs.IntVar(&o.canaries, "canaries", 1_000_000, "canaries to import")
	fs.IntVar(&history, "history", 10, "history entries of each canary")
	fs.StringVar(&o.out, "out", "", "also write the report as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if o.node == "" || o.canaries < 1 || history < 1 {
		return fmt.Errorf("%w: scale-import needs --node, --canaries >= 1 and --history >= 1", errUsage)
	}
	started := time.Now()
	const month = 30 * 24 * time.Hour
	for start := 0; start < o.canaries; start += importBatch {
		batch := scaleCanaries(o.prefix, start, min(start+importBatch, o.canaries), history, started, month)
		if err := importCanaries(ctx, o, batch); err != nil {
			return err
		}
	}
	report := scaleReport{Canaries: o.canaries, History: history,
		ImportSeconds: math.Round(time.Since(started).Seconds()*1000) / 1000}
	data, _ := json.Marshal(report)
	if o.out != "" {
		if err := os.WriteFile(o.out, append(data, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
	}
	_, err := fmt.Fprintf(w, "%s\n", data)
	return err
}

// scaleCanaries builds canaries first..last-1: a creation and then a trigger a minute
// up to now, due a period after the newest.
func scaleCanaries(prefix string, first, last, history int, now time.Time, period time.Duration) []lateCanary {
	out := make([]lateCanary, 0, last-first)
	for i := first; i < last; i++ {
		events := make([][2]string, history) // newest first, as the API shows them
		for j := range events {
			comment := "Triggered"
			if j == history-1 {
				comment = "Canary created"
			}
			events[j] = [2]string{now.Add(-time.Duration(j) * time.Minute).UTC().Format(time.RFC3339Nano), comment}
		}
		out = append(out, lateCanary{
			ID:          randomID(),
			Name:        fmt.Sprintf("%s%07d", prefix, i+1),
			Periodicity: period.Seconds(),
			Emails:      []string{fmt.Sprintf("team%d@example.com", i%100)},
			Deadline:    now.Add(period).UTC().Format(time.RFC3339Nano),
			History:     events,
		})
	}
	return out
}
