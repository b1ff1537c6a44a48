package main

// A secured cluster of real processes: a cluster key, the API over HTTPS with a
// certificate from a private CA, an auth key and a read-only key.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/cluster"
	"github.com/coal-mine/coal-mine/deploy/testkit"
)

// testCA is a private CA that issues the API's certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string // file
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{cert: cert, key: key, pem: filepath.Join(t.TempDir(), "ca.pem")}
	writeTestPEM(t, ca.pem, "CERTIFICATE", der)
	return ca
}

// issue writes a certificate for 127.0.0.1 with the given serial, and its key, to dir.
func (ca *testCA) issue(t *testing.T, dir string, serial int64) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "coal-mine"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeTestPEM(t, certFile+".new", "CERTIFICATE", der)
	writeTestPEM(t, keyFile+".new", "EC PRIVATE KEY", keyDER)
	// Renamed into place, as a certificate renewal does.
	for _, f := range []string{certFile, keyFile} {
		if err := os.Rename(f+".new", f); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

func writeTestPEM(t *testing.T, file, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// servedSerial is the serial number of the certificate the server at addr shows now.
func servedSerial(addr string, pool *x509.CertPool) (int64, error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
}

// TestSecuredCluster: three real nodes with a cluster key serve the API over HTTPS,
// writes through a follower reach the leader over the encrypted Raft port, the
// read-only key reads and cannot write, a node without the key never becomes a member,
// a node that would listen beyond loopback without a key refuses to start, and SIGHUP
// puts a renewed certificate in use.
func TestSecuredCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	bin := buildBinary(t)
	sink := startSink(t)
	ca := newTestCA(t)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	key := cluster.NewClusterKey()

	gossip := make([]string, 3)
	for i := range gossip {
		gossip[i] = fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	}
	var nodes []*daemon
	for i := range 3 {
		d := newDaemon(t, bin, sink.Addr())
		certFile, keyFile := ca.issue(t, t.TempDir(), int64(100+i))
		d.base = strings.Replace(d.base, "http://", "https://", 1)
		d.client = client
		d.env = append(d.env, "COAL_MINE_CLUSTER_KEY="+key, "COAL_MINE_READ_ONLY_KEY=just-looking")
		d.args = append(d.args, "--node-id", fmt.Sprintf("node%d", i+1), "--gossip-addr", gossip[i],
			"--join", strings.Join(gossip, ","), "--bootstrap-expect", "3",
			"--tls-cert-file", certFile, "--tls-key-file", keyFile)
		nodes = append(nodes, d)
	}
	for _, d := range nodes {
		d.launch()
	}
	for _, d := range nodes {
		d.waitReady()
	}
	c := &testCluster{t: t, nodes: nodes}
	leader := c.leader(15 * time.Second)
	follower := c.followers(leader)[0]

	id := follower.mustCall("create", url.Values{"name": {"Secured"}, "periodicity": {"3600"}})["canary"].(map[string]any)["id"].(string)
	follower.mustCall("trigger", url.Values{"slug": {"secured"}, "comment": {"over TLS"}})
	got := leader.mustCall("get", url.Values{"id": {id}, "auth_key": {"just-looking"}})
	if !strings.Contains(fmt.Sprint(got), "Triggered (over TLS)") {
		t.Errorf("the leader has %v", got)
	}
	if code, out := follower.call("create", url.Values{"name": {"Nope"}, "periodicity": {"60"}, "auth_key": {"just-looking"}}); code != http.StatusForbidden {
		t.Errorf("create with the read-only key: %d %v", code, out)
	}
	if resp, err := http.Get(strings.Replace(leader.base, "https://", "http://", 1) + "/readyz"); err == nil && resp.StatusCode == http.StatusOK {
		t.Error("the API answered plain HTTP")
	}

	// A node without the key joins; it must never become a member.
	rogue := newDaemon(t, bin, sink.Addr())
	rogue.args = append(rogue.args, "--node-id", "rogue", "--gossip-addr", fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)),
		"--join", strings.Join(gossip, ","))
	rogue.launch()
	defer rogue.kill()
	time.Sleep(3 * time.Second) // gossip rounds every 200 ms: a member would be known by now
	st, ok := leader.status()
	if !ok || strings.Contains(fmt.Sprint(st["members"]), "rogue") {
		t.Errorf("the leader's members: %v", st["members"])
	}

	// Beyond loopback without a key: refused at start, naming the remedy.
	refused := exec.Command(bin, "--data-dir", t.TempDir(), "--port", fmt.Sprint(testkit.FreePort(t)),
		"--raft-addr", fmt.Sprintf("0.0.0.0:%d", testkit.FreePort(t)))
	refused.Dir = t.TempDir()
	out, err := refused.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(string(out), "cluster key") || !strings.Contains(string(out), "--insecure-cluster") {
		t.Errorf("a keyless node on 0.0.0.0: %v\n%s", err, out)
	}

	// SIGHUP: a renewed certificate is served, and the node keeps serving.
	addr := strings.TrimPrefix(leader.base, "https://")
	for _, a := range leader.args {
		if strings.HasSuffix(a, "cert.pem") {
			ca.issue(t, filepath.Dir(a), 999)
		}
	}
	if err := leader.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		serial, err := servedSerial(addr, pool)
		if err != nil || serial != 999 {
			return fmt.Errorf("serving serial %d (%v) after SIGHUP", serial, err)
		}
		return nil
	})
	leader.mustCall("get", url.Values{"id": {id}})
}
