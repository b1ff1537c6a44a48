package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// exportFile is a mongoexport of an original Coal Mine's canaries collection, with
// its field names and the three date encodings (relaxed, canonical, plain ISO).
// The unpaused, timely canary's deadline is far ahead so that the server does not
// mark it late between two imports.
const exportFile = `{"_id":{"$oid":"550a2a4c2a3b1c0c8e5d1a01"},"id":"fbkvlsby","name":"My First Canary","slug":"my-first-canary","description":"","periodicity":3600,"emails":["a@example.com","b@example.com"],"late":false,"paused":false,"notify":false,"deadline":{"$date":"2099-03-19T02:11:56.408Z"},"history":[[{"$date":"2015-03-19T01:11:56.408Z"},"Triggered (long form trigger url)"],[{"$date":"2015-03-19T01:08:44.885Z"},"Canary created"]]}
{"_id":{"$oid":"550a2a4c2a3b1c0c8e5d1a02"},"id":"qwertyui","name":"Late One","slug":"late-one","description":"nightly","periodicity":{"$numberDouble":"90.0"},"emails":[],"late":true,"paused":false,"notify":false,"deadline":{"$date":{"$numberLong":"1426727324885"}},"history":[[{"$date":{"$numberLong":"1426727234885"}},"Canary created"]]}
{"_id":{"$oid":"550a2a4c2a3b1c0c8e5d1a03"},"id":"zxcvbnma","name":"Paused Schedule","slug":"paused-schedule","description":null,"periodicity":"* * * * sat,sun 300; * * * * mon-fri 90","emails":["c@example.com"],"late":false,"paused":true,"history":[["2015-03-20T00:00:00","Paused"],["2015-03-19T01:08:44.885000","Canary created"]]}
`

type importSummary struct {
	Status    string   `json:"status"`
	Created   []string `json:"created"`
	Unchanged []string `json:"unchanged"`
	Updated   []string `json:"updated"`
	Conflicts []struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	} `json:"conflicts"`
}

func parseImportSummary(t *testing.T, res cliResult) importSummary {
	t.Helper()
	var s importSummary
	if err := json.Unmarshal([]byte(res.stdout), &s); err != nil {
		t.Fatalf("import output is not JSON: %v\n%s", err, res)
	}
	for _, ids := range [][]string{s.Created, s.Unchanged, s.Updated} {
		sort.Strings(ids)
	}
	return s
}

func TestIntegrationImport(t *testing.T) {
	srv := startSingleNode(t, "k3y")
	cli := newCLIRunner(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "canaries.json")
	if err := os.WriteFile(file, []byte(exportFile), 0o600); err != nil {
		t.Fatal(err)
	}
	all := []string{"fbkvlsby", "qwertyui", "zxcvbnma"}

	first := cli.run(serverArgs(srv, "--auth-key", "k3y", "import", file)...)
	if first.code != 0 {
		t.Fatalf("first import: %s", first)
	}
	if s := parseImportSummary(t, first); fmt.Sprint(s.Created) != fmt.Sprint(all) || len(s.Unchanged)+len(s.Updated)+len(s.Conflicts) != 0 {
		t.Fatalf("first import: %+v", s)
	}
	// Idempotent: the same file again changes nothing (in small batches, too).
	second := cli.run(serverArgs(srv, "--auth-key", "k3y", "import", file, "--batch-size", "2")...)
	if second.code != 0 {
		t.Fatalf("second import: %s", second)
	}
	if s := parseImportSummary(t, second); fmt.Sprint(s.Unchanged) != fmt.Sprint(all) || len(s.Created)+len(s.Updated)+len(s.Conflicts) != 0 {
		t.Fatalf("second import: %+v", s)
	}

	// What was imported is what the old server had.
	get := func(id string) map[string]any {
		return canaryOf(t, cli.ok(serverArgs(srv, "--auth-key", "k3y", "get", "--id", id)...))
	}
	first1 := get("fbkvlsby")
	if first1["name"] != "My First Canary" || first1["slug"] != "my-first-canary" || first1["periodicity"] != 3600.0 ||
		fmt.Sprint(first1["emails"]) != "[a@example.com b@example.com]" || first1["late"] != false || first1["paused"] != false ||
		!strings.HasPrefix(fmt.Sprint(first1["deadline"]), "2099-03-19T02:11:56.408") {
		t.Errorf("imported fbkvlsby = %v", first1)
	}
	if got := historyComments(t, first1); fmt.Sprint(got) != "[Triggered (long form trigger url) Canary created]" {
		t.Errorf("imported history %q", got)
	}
	if h := first1["history"].([]any)[1].([]any)[0]; !strings.HasPrefix(fmt.Sprint(h), "2015-03-19T01:08:44.885") {
		t.Errorf("imported history time %v", h)
	}
	late := get("qwertyui")
	if late["late"] != true || late["description"] != "nightly" || late["periodicity"] != 90.0 ||
		!strings.HasPrefix(fmt.Sprint(late["deadline"]), "2015-03-19T01:08:44.885") {
		t.Errorf("imported qwertyui = %v", late)
	}
	paused := get("zxcvbnma")
	if paused["paused"] != true || paused["periodicity"] != "* * * * sat,sun 300; * * * * mon-fri 90" || paused["deadline"] != nil {
		t.Errorf("imported zxcvbnma = %v", paused)
	}
	cli.ok(serverArgs(srv, "--auth-key", "k3y", "get", "--slug", "paused-schedule")...)

	// A different canary under an imported id is a conflict, reported, not overwritten...
	changed := strings.Replace(exportFile, `"name":"Paused Schedule","slug":"paused-schedule"`, `"name":"Renamed","slug":"renamed"`, 1)
	changedFile := filepath.Join(dir, "changed.json")
	if err := os.WriteFile(changedFile, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	conflict := cli.run(serverArgs(srv, "--auth-key", "k3y", "import", changedFile)...)
	if conflict.code != 1 || !strings.Contains(conflict.stderr, "--overwrite") {
		t.Fatalf("conflicting import: %s", conflict)
	}
	if s := parseImportSummary(t, conflict); len(s.Conflicts) != 1 || s.Conflicts[0].ID != "zxcvbnma" || len(s.Unchanged) != 2 {
		t.Fatalf("conflicting import: %+v", s)
	}
	if get("zxcvbnma")["name"] != "Paused Schedule" {
		t.Fatal("a conflict was overwritten")
	}
	human := cli.run(serverArgs(srv, "--auth-key", "k3y", "--human", "import", changedFile)...)
	if human.code != 1 || !strings.Contains(human.stdout, "conflicts: 1\n  zxcvbnma: ") {
		t.Fatalf("human conflicting import: %s", human)
	}
	// ...unless asked.
	overwrite := cli.run(serverArgs(srv, "--auth-key", "k3y", "import", changedFile, "--overwrite")...)
	if s := parseImportSummary(t, overwrite); overwrite.code != 0 || fmt.Sprint(s.Updated) != "[zxcvbnma]" {
		t.Fatalf("import --overwrite: %s", overwrite)
	}
	if get("zxcvbnma")["name"] != "Renamed" {
		t.Fatal("--overwrite did not replace the canary")
	}

	// Cron lines that trigger /<id> keep working, without the key.
	resp, err := http.Get(srv.base + "/fbkvlsby?comment=cron")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("short trigger URL of an imported canary: %s", resp.Status)
	}
	if got := historyComments(t, get("fbkvlsby")); !strings.Contains(got[0], "cron") {
		t.Errorf("history after the short trigger %q", got)
	}

	// Auth, and a file that is not an export.
	cli.fails(1, "401 Unauthorized", serverArgs(srv, "import", file)...)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{\"id\":\"abcdefgh\"}\n"), 0o600)
	cli.fails(1, "line 1: canary abcdefgh: missing field: name", serverArgs(srv, "--auth-key", "k3y", "import", bad)...)
	cli.fails(1, "no such file", serverArgs(srv, "--auth-key", "k3y", "import", filepath.Join(dir, "missing.json"))...)
}
