package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coal-mine/coal-mine/cluster"
)

// TestInitSecrets: init-secrets writes a usable cluster key, a CA and a certificate it
// signs for the hosts named, owner-only; run again, it replaces nothing.
func TestInitSecrets(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	var out strings.Builder
	if err := initSecrets([]string{"--dir", dir, "--hosts", "node1,127.0.0.1"}, &out); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if info, _ := os.Stat(filepath.Join(dir, name)); info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v", name, info.Mode().Perm())
		}
		return data
	}
	if _, err := cluster.ParseClusterKey(string(read(secretClusterKey))); err != nil {
		t.Errorf("cluster key: %v", err)
	}
	caBlock, _ := pem.Decode(read(secretCA))
	ca, err := x509.ParseCertificate(caBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	certBlock, _ := pem.Decode(read(secretCert))
	cert, err := x509.ParseCertificate(certBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, host := range []string{"node1", "127.0.0.1"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: host}); err != nil {
			t.Errorf("the certificate for %s: %v", host, err)
		}
	}
	before := read(secretCert)
	out.Reset()
	if err := initSecrets([]string{"--dir", dir, "--hosts", "other"}, &out); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 || string(read(secretCert)) != string(before) {
		t.Errorf("a second run wrote %q", out.String())
	}
}
