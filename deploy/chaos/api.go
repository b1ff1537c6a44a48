package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The HTTP side of the campaign: requests to one node and the answers' shapes.

// opTimeout bounds one request. A request to a paused node waits for SIGCONT (pauses
// last at most 8 s), and a write may wait through an election before it is answered.
const opTimeout = 12 * time.Second

// api sends requests to nodes, with the cluster's auth key.
type api struct {
	client  *http.Client
	authKey string
}

func newAPI(authKey string) *api {
	tr := &http.Transport{
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
	return &api{client: &http.Client{Transport: tr}, authKey: authKey}
}

// answer is a node's reply.
type answer struct {
	status int
	body   []byte
}

// ok tells a 200 whose JSON says "status": "ok".
func (a answer) ok() bool {
	var s struct {
		Status string `json:"status"`
	}
	return a.status == http.StatusOK && json.Unmarshal(a.body, &s) == nil && s.Status == "ok"
}

// errorText is the server's error message, shortened for the op log.
func (a answer) errorText() string {
	var s struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(a.body, &s) == nil && s.Error != "" {
		return s.Error
	}
	return strings.TrimSpace(string(a.body[:min(len(a.body), 200)]))
}

// call sends one request. Writes go as POST (every endpoint answers POST, parameters in
// the query): Go's client resends a GET on its own when a reused connection breaks,
// which could apply one trigger twice and blame the server for it; it never resends a
// POST that may have reached the server.
func (a *api) call(ctx context.Context, n *node, method, path string, params url.Values) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	q := url.Values{}
	for k, v := range params {
		q[k] = v
	}
	if a.authKey != "" && !strings.HasSuffix(path, "/trigger") && !isShortURL(path) {
		q.Set("auth_key", a.authKey)
	}
	u := n.base() + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return answer{}, fmt.Errorf("request %s: %w", path, err)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s on %s: %w", method, path, n.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{status: resp.StatusCode}, fmt.Errorf("%s %s on %s: read answer: %w", method, path, n.name, err)
	}
	return answer{status: resp.StatusCode, body: body}, nil
}

// isShortURL tells the ping URL /<id>.
func isShortURL(path string) bool {
	return len(path) == 9 && path[0] == '/' && !strings.Contains(path[1:], "/")
}

// probe is the status of an unauthenticated GET (/readyz), 0 when there is no answer.
func (a *api) probe(ctx context.Context, n *node, path string) int {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.base()+path, nil)
	if err != nil {
		return 0
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// status is the part of cluster/status the campaign reads.
type status struct {
	NodeID   string `json:"node_id"`
	State    string `json:"state"`
	LeaderID string `json:"leader_id"`
	Term     uint64 `json:"term"`
}

func (a *api) status(ctx context.Context, n *node) (status, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ans, err := a.call(ctx, n, http.MethodGet, "/coal-mine/v1/cluster/status", nil)
	if err != nil {
		return status{}, err
	}
	var s status
	if !ans.ok() {
		return s, fmt.Errorf("cluster/status on %s: HTTP %d %s", n.name, ans.status, ans.errorText())
	}
	if err := json.Unmarshal(ans.body, &s); err != nil {
		return s, fmt.Errorf("cluster/status on %s: %w", n.name, err)
	}
	return s, nil
}

// canaryJSON is a canary as the API shows it.
type canaryJSON struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Slug        string          `json:"slug"`
	Late        bool            `json:"late"`
	Paused      bool            `json:"paused"`
	Periodicity json.RawMessage `json:"periodicity"`
	History     [][]string      `json:"history"` // newest first: [time, comment]
}

// historyTime is the API's timestamp format: microseconds, explicit offset, the
// fraction left out when it is zero.
const historyTime = "2006-01-02T15:04:05.999999-07:00"

// toCanary converts the API's shape to the checks' (history oldest first, UTC).
func (cj *canaryJSON) toCanary() (*Canary, error) {
	c := &Canary{ID: cj.ID, Name: cj.Name, Slug: cj.Slug, Late: cj.Late, Paused: cj.Paused}
	if p, err := strconv.ParseFloat(string(cj.Periodicity), 64); err == nil {
		c.Periodicity = p
	}
	c.History = make([]Entry, len(cj.History))
	for i, pair := range cj.History {
		if len(pair) != 2 {
			return nil, fmt.Errorf("canary %s: history entry %d is %v", cj.ID, i, pair)
		}
		t, err := time.Parse(historyTime, pair[0])
		if err != nil {
			return nil, fmt.Errorf("canary %s: history entry %d: %w", cj.ID, i, err)
		}
		c.History[len(cj.History)-1-i] = Entry{At: t.UTC(), Comment: pair[1]}
	}
	return c, nil
}

// leaderIn reads leader_id from a transfer-leader answer.
func leaderIn(body []byte) string {
	var s struct {
		LeaderID string `json:"leader_id"`
	}
	_ = json.Unmarshal(body, &s)
	return s.LeaderID
}
