//go:build e2e

package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// apiPrefix is where the Coal Mine v1 API and the cluster endpoints live.
const apiPrefix = "/coal-mine/v1/"

// errNoLeaderSeen means a node answered but knows of no leader.
var errNoLeaderSeen = errors.New("no leader")

// response is one API answer: the status code, the Retry-After header and the JSON body.
type response struct {
	code       int
	retryAfter string
	body       map[string]any
}

func (r response) String() string {
	b, _ := json.Marshal(r.body)
	return fmt.Sprintf("HTTP %d %s", r.code, b)
}

// apiClient talks to the published ports of one compose project.
type apiClient struct {
	http    *http.Client
	authKey string
	ports   map[string]int
}

func (c *apiClient) base(service string) string {
	if service == "mailsink" {
		return "http://127.0.0.1:" + strconv.Itoa(c.ports[service])
	}
	// The nodes serve the API over HTTPS with the certificate the secrets step made.
	return "https://127.0.0.1:" + strconv.Itoa(c.ports[service])
}

// trustCA makes the client trust the CA in pemData: the one the compose project made.
func (c *apiClient) trustCA(pemData []byte) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return errors.New("the secrets volume's ca.pem holds no certificate")
	}
	c.http.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	return nil
}

// call sends GET <path>?<params>&auth_key=... to a service and decodes the JSON answer.
// path is relative to the API prefix unless it starts with "/".
func (c *apiClient) call(service, path string, params url.Values) (response, error) {
	if !strings.HasPrefix(path, "/") {
		path = apiPrefix + path
	}
	q := url.Values{}
	for k, v := range params {
		q[k] = v
	}
	q.Set("auth_key", c.authKey)
	resp, err := c.http.Get(c.base(service) + path + "?" + q.Encode())
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", service, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: read body: %w", service, path, err)
	}
	r := response{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		return r, fmt.Errorf("%s %s: HTTP %d, not JSON: %q", service, path, resp.StatusCode, raw)
	}
	return r, nil
}

// probe is the status code of an unauthenticated GET (/healthz, /readyz).
func (c *apiClient) probe(service, path string) (int, error) {
	resp, err := c.http.Get(c.base(service) + path)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// clusterStatus is the part of GET cluster/status the suite looks at.
type clusterStatus struct {
	NodeID       string   `json:"node_id"`
	State        string   `json:"state"`
	LeaderID     string   `json:"leader_id"`
	Term         uint64   `json:"term"`
	CommitIndex  uint64   `json:"commit_index"`
	AppliedIndex uint64   `json:"applied_index"`
	Members      []member `json:"members"`
}

type member struct {
	ID          string `json:"id"`
	GossipState string `json:"gossip_state"`
	Voter       bool   `json:"voter"`
	Leader      bool   `json:"leader"`
}

func (c *apiClient) status(service string) (clusterStatus, error) {
	r, err := c.call(service, "cluster/status", nil)
	if err != nil {
		return clusterStatus{}, err
	}
	if r.code != http.StatusOK {
		return clusterStatus{}, fmt.Errorf("%s cluster/status: %s", service, r)
	}
	raw, _ := json.Marshal(r.body)
	var s clusterStatus
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("%s cluster/status: %w", service, err)
	}
	return s, nil
}

// agreedLeader is the leader every one of the services names, provided that exactly one
// of them is in the leader state and it is that leader.
func (c *apiClient) agreedLeader(services ...string) (string, clusterStatus, error) {
	var leader string
	var leaderStatus clusterStatus
	for _, service := range services {
		s, err := c.status(service)
		if err != nil {
			return "", s, err
		}
		if s.LeaderID == "" {
			return "", s, fmt.Errorf("%s: %w", service, errNoLeaderSeen)
		}
		if leader != "" && s.LeaderID != leader {
			return "", s, fmt.Errorf("%s names leader %s, another node names %s", service, s.LeaderID, leader)
		}
		leader = s.LeaderID
		if s.State == "leader" {
			if leaderStatus.NodeID != "" {
				return "", s, fmt.Errorf("two nodes in the leader state: %s and %s", leaderStatus.NodeID, s.NodeID)
			}
			leaderStatus = s
		}
	}
	if leaderStatus.NodeID != leader {
		return "", leaderStatus, fmt.Errorf("leader %s is not among %v in the leader state", leader, services)
	}
	return leader, leaderStatus, nil
}

// canary fetches one canary from one node.
func (c *apiClient) canary(service, id string) (map[string]any, error) {
	r, err := c.call(service, "canary/get", url.Values{"id": {id}})
	if err != nil {
		return nil, err
	}
	if r.code != http.StatusOK {
		return nil, fmt.Errorf("%s canary/get %s: %s", service, id, r)
	}
	canary, ok := r.body["canary"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s canary/get %s: no canary in %s", service, id, r)
	}
	return canary, nil
}

// canaries lists every canary on one node, verbose, by id.
func (c *apiClient) canaries(service string) (map[string]any, error) {
	r, err := c.call(service, "canary/list", url.Values{"verbose": {"true"}})
	if err != nil {
		return nil, err
	}
	if r.code != http.StatusOK {
		return nil, fmt.Errorf("%s canary/list: %s", service, r)
	}
	list, _ := r.body["canaries"].([]any)
	byID := make(map[string]any, len(list))
	for _, item := range list {
		canary, _ := item.(map[string]any)
		id, _ := canary["id"].(string)
		byID[id] = canary
	}
	return byID, nil
}

// historyComments are the comments of a canary's history, newest first.
func historyComments(canary map[string]any) []string {
	var out []string
	history, _ := canary["history"].([]any)
	for _, entry := range history {
		if pair, ok := entry.([]any); ok && len(pair) == 2 {
			comment, _ := pair[1].(string)
			out = append(out, comment)
		}
	}
	return out
}

// deadline parses a canary's deadline ("2015-03-19T01:08:44.885182+00:00").
func deadline(canary map[string]any) (time.Time, error) {
	s, _ := canary["deadline"].(string)
	return time.Parse("2006-01-02T15:04:05.999999-07:00", s)
}

// mail is one message the sink received.
type mail struct {
	Subject string `json:"subject"`
}

// mails lists what the sink has received. The sink answers a JSON array or an object
// with a "messages" array.
func (c *apiClient) mails() ([]mail, error) {
	resp, err := c.http.Get(c.base("mailsink") + "/messages")
	if err != nil {
		return nil, fmt.Errorf("mail sink: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("mail sink: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mail sink: HTTP %d %q", resp.StatusCode, raw)
	}
	var list []mail
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var wrapped struct {
		Messages []mail `json:"messages"`
	}
	if err := json.Unmarshal(raw, &wrapped); err != nil {
		return nil, fmt.Errorf("mail sink: not a list of messages: %q", raw)
	}
	return wrapped.Messages, nil
}

// countSubjects counts the received mails whose subject is exactly subject.
func countSubjects(mails []mail, subject string) int {
	n := 0
	for _, m := range mails {
		if m.Subject == subject {
			n++
		}
	}
	return n
}
