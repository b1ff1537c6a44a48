package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
)

const (
	canaryAPI  = "/coal-mine/v1/canary/"
	clusterAPI = "/coal-mine/v1/cluster/"
)

// errBadHost is returned for a --host that is neither a host name nor an http(s) URL.
var errBadHost = errors.New("host must be a host name or an http:// or https:// URL")

var schemePrefix = regexp.MustCompile(`(?i)^https?:`)

// serverURL turns the configured host and port into the base URL of the server.
// host is a name ("cm.example.com", "10.0.0.1", "[::1]") or a URL base
// ("https://cm.example.com/prefix"). A non-zero port replaces any port in host; a
// zero port adds none, so the scheme's default applies (80, or 443 for https), as
// the original cmcli did.
func serverURL(host string, port int) (*url.URL, error) {
	raw := host
	if !schemePrefix.MatchString(raw) {
		if strings.Contains(raw, "://") {
			return nil, fmt.Errorf("%w: %q", errBadHost, host)
		}
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: %q", errBadHost, host)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	if port != 0 {
		u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(port))
	}
	return u, nil
}

// APIError is a response with a non-2xx status. Status is the status line as
// "404 Not Found"; Message is the server's "error" field, or its text.
type APIError struct {
	StatusCode int
	Status     string
	Message    string
	Body       []byte
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return e.Status
	}
	return e.Status + ": " + e.Message
}

// Client talks to one coal-mine (or original Coal Mine) server.
type Client struct {
	base    *url.URL
	authKey string
	http    *http.Client
}

func newClient(base *url.URL, authKey string) *Client {
	return &Client{base: base, authKey: authKey, http: &http.Client{}}
}

// trustCA makes the client check the server's HTTPS certificate against the CA in file
// (PEM), a private CA such as the one a coal-mine cluster's certificates are signed by.
func (c *Client) trustCA(file string) error {
	pem, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("reading the CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("%s holds no PEM certificate", file)
	}
	c.http = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	return nil
}

// apiRequest is one call. The auth key goes into the query string unless noAuth
// (trigger never needs it and the original never sent it).
type apiRequest struct {
	method      string
	path        string // below the base URL, e.g. canaryAPI + "get"
	params      url.Values
	noAuth      bool
	body        io.Reader
	contentType string
}

// URL is the address a request goes to; the human views show trigger URLs with it.
func (c *Client) URL(path string, params url.Values) string {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = params.Encode()
	return u.String()
}

func (c *Client) send(ctx context.Context, req apiRequest) (*http.Response, error) {
	params := url.Values{}
	for k, v := range req.params {
		params[k] = v
	}
	if c.authKey != "" && !req.noAuth {
		params.Set("auth_key", c.authKey)
	}
	method := req.method
	if method == "" {
		method = http.MethodGet // what the original cmcli used for everything
	}
	httpReq, err := http.NewRequestWithContext(ctx, method, c.URL(req.path, params), req.body)
	if err != nil {
		return nil, fmt.Errorf("building request for %s: %w", req.path, err)
	}
	if req.contentType != "" {
		httpReq.Header.Set("Content-Type", req.contentType)
	}
	httpReq.Header.Set("User-Agent", "cmcli")
	resp, err := c.http.Do(httpReq)
	if err != nil {
		// The query holds the auth key and, for channels, their secrets (URLs, headers,
		// routing keys): the error names the request by its path only.
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			u := *c.base
			u.Path = c.base.Path + req.path
			urlErr.URL = u.Redacted()
		}
		return nil, fmt.Errorf("contacting %s: %w", c.base.Redacted(), err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, newAPIError(resp, body)
	}
	return resp, nil
}

// Do sends req and returns the body of a successful response.
func (c *Client) Do(ctx context.Context, req apiRequest) ([]byte, error) {
	resp, err := c.send(ctx, req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the response to %s: %w", req.path, err)
	}
	return body, nil
}

// Stream sends req and copies a successful response's body to w.
func (c *Client) Stream(ctx context.Context, req apiRequest, w io.Writer) (int64, error) {
	resp, err := c.send(ctx, req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("reading the response to %s: %w", req.path, err)
	}
	return n, nil
}

func newAPIError(resp *http.Response, body []byte) *APIError {
	status := resp.Status // "404 Not Found"
	if status == "" || !strings.HasPrefix(status, strconv.Itoa(resp.StatusCode)) {
		status = fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return &APIError{
		StatusCode: resp.StatusCode,
		Status:     status,
		Message:    errorMessage(body),
		Body:       body,
	}
}

// errorMessage extracts {"error": "..."} from a body, or returns its text.
func errorMessage(body []byte) string {
	var decoded struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &decoded) == nil && decoded.Error != "" {
		return decoded.Error
	}
	return strings.TrimSpace(string(body))
}
