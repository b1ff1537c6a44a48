package http

import (
	"net/http"
	"strings"
	"testing"
)

// TestReadOnlyKeyReadsButChangesNothing: the read-only key may get, list and read the
// cluster's status; every call that changes something, or downloads the whole state,
// answers it 403; the auth key may do everything and the trigger needs no key.
func TestReadOnlyKeyReadsButChangesNothing(t *testing.T) {
	n := newNode(t, nil, withAuth("write-key"), func(c *Config) { c.ReadOnlyKey = "read-key" })
	id := n.mustCreate(t, "name=ro&periodicity=60&auth_key=write-key")
	for _, tt := range []struct {
		target string
		status int
	}{
		{canaryPrefix + "get?id=" + id + "&auth_key=read-key", http.StatusOK},
		{canaryPrefix + "list?auth_key=read-key", http.StatusOK},
		{clusterPrefix + "status?auth_key=read-key", http.StatusOK},
		{canaryPrefix + "create?name=x&periodicity=60&auth_key=read-key", http.StatusForbidden},
		{canaryPrefix + "update?id=" + id + "&description=x&auth_key=read-key", http.StatusForbidden},
		{canaryPrefix + "pause?id=" + id + "&auth_key=read-key", http.StatusForbidden},
		{canaryPrefix + "delete?id=" + id + "&auth_key=read-key", http.StatusForbidden},
		{clusterPrefix + "snapshot?auth_key=read-key", http.StatusForbidden},
		{clusterPrefix + "remove-peer?id=n2&auth_key=read-key", http.StatusForbidden},
		{canaryPrefix + "get?id=" + id + "&auth_key=wrong", http.StatusUnauthorized},
		{canaryPrefix + "get?id=" + id, http.StatusUnauthorized},
		{canaryPrefix + "trigger?id=" + id, http.StatusOK},
		{"/" + id, http.StatusOK},
		{canaryPrefix + "update?id=" + id + "&description=x&auth_key=write-key", http.StatusOK},
	} {
		r := n.get(t, tt.target)
		expectStatus(t, r, tt.status)
		if tt.status == http.StatusForbidden && (r.str("status") != "error" || !strings.Contains(r.str("error"), "read-only key")) {
			t.Errorf("%s: 403 answer %s", tt.target, r.raw)
		}
	}
	if c, _ := n.fsm.Get(id); c.Paused || c.Description != "x" {
		t.Errorf("the read-only key changed the canary: %+v", c)
	}
}

// TestReadyzShowsWarnings: what is wrong with a node's settings shows in /readyz.
func TestReadyzShowsWarnings(t *testing.T) {
	warning := "the API listens on 0.0.0.0:8080 without an auth key: anybody who reaches it may change anything"
	n := newNode(t, nil, func(c *Config) { c.Warnings = []string{warning} })
	r := n.get(t, "/readyz")
	expectStatus(t, r, http.StatusOK)
	if w, _ := r.body["warnings"].([]any); len(w) != 1 || w[0] != warning {
		t.Errorf("readyz: %s", r.raw)
	}
	if plain := newNode(t, nil).get(t, "/readyz"); strings.Contains(plain.raw, "warnings") {
		t.Errorf("readyz without warnings: %s", plain.raw)
	}
}
