package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/spf13/cobra"
)

// errImportConflicts is returned when some canaries were not imported because a
// different canary already holds their id or slug.
var errImportConflicts = errors.New("conflicting canaries were not imported")

const defaultImportBatch = 100

// importResult is the answer of /coal-mine/v1/canary/import, summed over batches.
type importResult struct {
	Status    string           `json:"status"`
	Created   []string         `json:"created"`
	Unchanged []string         `json:"unchanged"`
	Updated   []string         `json:"updated"`
	Conflicts []importConflict `json:"conflicts"`
}

type importConflict struct {
	ID    string `json:"id"`
	Error string `json:"error"`
}

func newImportResult() importResult {
	return importResult{Status: "ok", Created: []string{}, Unchanged: []string{}, Updated: []string{}, Conflicts: []importConflict{}}
}

func (r *importResult) add(batch importResult) {
	r.Created = append(r.Created, batch.Created...)
	r.Unchanged = append(r.Unchanged, batch.Unchanged...)
	r.Updated = append(r.Updated, batch.Updated...)
	r.Conflicts = append(r.Conflicts, batch.Conflicts...)
}

func newImportCmd(a *app) *cobra.Command {
	var overwrite, dryRun bool
	var batchSize int
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import the canaries of an existing Coal Mine (mongoexport output)",
		Long: `Recreate the canaries of an original Coal Mine server, with their ids (so cron
lines that trigger /<id> keep working), names, periodicities, e-mails, paused and
late states, deadlines and history. FILE ('-' for stdin) is what

  mongoexport --db coal-mine --collection canaries --out canaries.json

writes: one JSON document per line (--jsonArray output is read too), dates in
MongoDB's extended JSON. Importing again changes nothing. A canary whose id or slug
is held by a different canary is a conflict: it is reported and left alone (exit
status 1) unless --overwrite.`,
		Example: "  mongoexport --db coal-mine --collection canaries --out canaries.json\n  cmcli import canaries.json\n  cmcli import canaries.json --overwrite",
		GroupID: groupCluster,
		Args:    exactArgs(1, "FILE"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if batchSize < 1 {
				return usageErrorf("--batch-size must be at least 1")
			}
			canaries, err := a.readExport(args[0])
			if err != nil {
				return err
			}
			p := a.printer(nil, false)
			if dryRun {
				return showDryRun(p, canaries, args[0])
			}
			client, err := a.connection(cmd)
			if err != nil {
				return err
			}
			total := newImportResult()
			for start := 0; start < len(canaries); start += batchSize {
				batch := canaries[start:min(start+batchSize, len(canaries))]
				result, err := a.importBatch(cmd, client, batch, overwrite)
				if err != nil {
					if start > 0 {
						p.printImport(total)
					}
					return fmt.Errorf("importing canaries %d-%d of %d (importing again is safe): %w",
						start+1, start+len(batch), len(canaries), err)
				}
				total.add(result)
			}
			if p.mode == outputJSON {
				out, _ := json.Marshal(total)
				if err := p.printJSON(out); err != nil {
					return err
				}
			} else {
				p.printImport(total)
			}
			if n := len(total.Conflicts); n > 0 {
				return fmt.Errorf("%w: %d (--overwrite replaces them)", errImportConflicts, n)
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "replace canaries whose id or slug is held by a different canary")
	cmd.Flags().IntVar(&batchSize, "batch-size", defaultImportBatch, "canaries sent per request")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "read and convert FILE, print what would be sent, send nothing")
	return cmd
}

func (a *app) readExport(name string) ([]importCanary, error) {
	var in io.Reader = a.streams.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("opening the export: %w", err)
		}
		defer f.Close()
		in = f
	}
	canaries, err := parseMongoExport(in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return canaries, nil
}

func (a *app) importBatch(cmd *cobra.Command, client *Client, batch []importCanary, overwrite bool) (importResult, error) {
	body, err := json.Marshal(struct {
		Canaries []importCanary `json:"canaries"`
	}{batch})
	if err != nil {
		return importResult{}, fmt.Errorf("encoding the canaries: %w", err)
	}
	params := url.Values{}
	if overwrite {
		params.Set("overwrite", "true")
	}
	ctx, cancel := a.requestContext(cmd)
	defer cancel()
	resp, err := client.Do(ctx, apiRequest{
		method: "POST", path: canaryAPI + "import", params: params,
		body: bytes.NewReader(body), contentType: "application/json",
	})
	if err != nil {
		return importResult{}, err
	}
	var result importResult
	if err := json.Unmarshal(resp, &result); err != nil {
		return importResult{}, fmt.Errorf("decoding the import answer: %w", err)
	}
	return result, nil
}

func showDryRun(p *printer, canaries []importCanary, name string) error {
	if p.mode == outputJSON {
		out, err := json.Marshal(struct {
			Canaries []importCanary `json:"canaries"`
		}{canaries})
		if err != nil {
			return fmt.Errorf("encoding the canaries: %w", err)
		}
		return p.printJSON(out)
	}
	p.printf("Read %d canaries from %s; nothing was sent.\n", len(canaries), name)
	for _, c := range canaries {
		p.printf("  %s  %s\n", c.ID, c.Name)
	}
	return nil
}

func (p *printer) printImport(r importResult) {
	p.printf("created:   %d\nunchanged: %d\nupdated:   %d\nconflicts: %s\n",
		len(r.Created), len(r.Unchanged), len(r.Updated),
		p.styled(alertIf(len(r.Conflicts) > 0), fmt.Sprint(len(r.Conflicts))))
	for _, c := range r.Conflicts {
		p.printf("  %s: %s\n", c.ID, c.Error)
	}
}
