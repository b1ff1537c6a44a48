package cluster

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"
)

// The cluster credential. Every node is given the same cluster key (Consul's gossip
// encryption key is the model): 32 random bytes, base64. From it each node derives
//
//   - the gossip key: memberlist encrypts and authenticates every gossip message with it
//     (AES-GCM), and drops what it cannot open, so a node without the key is never a
//     member and so never a voter;
//   - a certificate authority: each node makes itself a certificate signed by it at
//     start, and Raft and the nodes' RPC run over TLS 1.3 on which both ends must show
//     such a certificate (mutual TLS), so a node without the key never reaches Raft.
//
// Knowing the key is what makes a node a member: nothing else needs to be distributed.
// An operator with a PKI of their own may give a CA, a certificate and its key instead
// (TLSFiles); the certificates of the nodes must then be signed by that CA. Several keys
// may be installed at once: the first (the primary) encrypts gossip and signs this
// node's certificate, and all of them are accepted, which is how a key is rotated node
// by node without downtime (README: Rotating the cluster key).

// ClusterKeySize is the length of a cluster key in bytes.
const ClusterKeySize = 32

// ErrNoCredential is returned by New for a node whose Raft or gossip address can be
// reached from other machines but that has no cluster key, unless Insecure says so.
var ErrNoCredential = errors.New("cluster: no cluster key")

// NewClusterKey returns a new random cluster key, base64 as the operator gives it.
func NewClusterKey() string {
	key := make([]byte, ClusterKeySize)
	rand.Read(key)
	return base64.StdEncoding.EncodeToString(key)
}

// ParseClusterKey decodes a base64 cluster key (standard or URL alphabet, with or without
// padding) and checks its length.
func ParseClusterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(s); err == nil {
			if len(key) != ClusterKeySize {
				return nil, fmt.Errorf("a cluster key is %d bytes, this one %d (make one with `coal-mine keygen`)", ClusterKeySize, len(key))
			}
			return key, nil
		}
	}
	return nil, errors.New("a cluster key is base64 (make one with `coal-mine keygen`)")
}

// TLSFiles are an operator's PKI for node-to-node TLS: the CA every node's certificate is
// signed by, and this node's certificate and key (PEM files).
type TLSFiles struct {
	CAFile, CertFile, KeyFile string
}

func (f TLSFiles) set() bool { return f.CAFile != "" }

// keyFingerprint names a key in logs without revealing it.
func keyFingerprint(key []byte) string {
	sum := sha256.Sum256(append([]byte("coal-mine key fingerprint"), key...))
	return hex.EncodeToString(sum[:4])
}

// deriveKey derives a subkey for one use from a cluster key.
func deriveKey(key []byte, use string) []byte {
	sub, err := hkdf.Key(sha256.New, key, nil, "coal-mine "+use, 32)
	if err != nil {
		panic(err) // only for lengths hkdf cannot make
	}
	return sub
}

// gossipKeys are the memberlist keyring's keys, primary first.
func gossipKeys(keys [][]byte) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = deriveKey(k, "gossip v1")
	}
	return out
}

// nodeServerName is the name in the certificates derived from a cluster key.
const nodeServerName = "node.coal-mine.internal"

// clusterCA is the certificate authority derived from one cluster key.
type clusterCA struct {
	cert *x509.Certificate
	key  ed25519.PrivateKey
}

func deriveCA(key []byte) (*clusterCA, error) {
	caKey := ed25519.NewKeyFromSeed(deriveKey(key, "node CA v1"))
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "coal-mine cluster CA " + keyFingerprint(key)},
		NotBefore:             time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2120, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("derive the cluster CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &clusterCA{cert: cert, key: caKey}, nil
}

// issue makes a certificate for this node, with a fresh key, signed by the CA.
func (ca *clusterCA) issue(nodeID string) (tls.Certificate, error) {
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: nodeID},
		DNSNames:     []string{nodeServerName},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, leafKey.Public(), ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue this node's certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: leafKey}, nil
}

// nodeTLS is the TLS configuration of the Raft port: one for accepting, one for dialling,
// both requiring the other end's certificate.
type nodeTLS struct {
	server, client *tls.Config
}

// newNodeTLS builds the Raft port's TLS from the cluster keys (or the operator's files),
// or returns nil when the node has no credential.
func newNodeTLS(nodeID string, keys [][]byte, files TLSFiles) (*nodeTLS, error) {
	pool := x509.NewCertPool()
	var cert tls.Certificate
	switch {
	case files.set():
		pem, err := os.ReadFile(files.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read the CA file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", files.CAFile)
		}
		if cert, err = tls.LoadX509KeyPair(files.CertFile, files.KeyFile); err != nil {
			return nil, fmt.Errorf("load this node's certificate: %w", err)
		}
	case len(keys) > 0:
		for i, key := range keys {
			ca, err := deriveCA(key)
			if err != nil {
				return nil, err
			}
			pool.AddCert(ca.cert)
			if i == 0 {
				if cert, err = ca.issue(nodeID); err != nil {
					return nil, err
				}
			}
		}
	default:
		return nil, nil
	}
	return &nodeTLS{
		server: &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pool,
		},
		client: &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{cert},
			// Nodes are dialled by address: what proves a node is a member is its
			// certificate's chain to the cluster's CA, not a host name, which an
			// operator's certificates need not carry. VerifyConnection checks the chain.
			InsecureSkipVerify: true,
			VerifyConnection:   verifyChain(pool),
		},
	}, nil
}

// verifyChain checks that the other end's certificate chains to a CA in pool.
func verifyChain(pool *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the node showed no certificate")
		}
		intermediates := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			intermediates.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
			Roots: pool, Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			return fmt.Errorf("the node's certificate is not the cluster's: %w", err)
		}
		return nil
	}
}
