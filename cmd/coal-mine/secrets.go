package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/coal-mine/coal-mine/cluster"
)

// initSecretsCommand makes a cluster's secrets for a test or demo deployment.
const initSecretsCommand = "init-secrets"

// The files init-secrets writes in its directory.
const (
	secretClusterKey = "cluster.key"
	secretCA         = "ca.pem"
	secretCAKey      = "ca-key.pem"
	secretCert       = "node.pem"
	secretCertKey    = "node-key.pem"
)

// initSecrets runs "coal-mine init-secrets --dir DIR --hosts h1,h2,...": it writes, in
// DIR, whichever of these is missing: a cluster key, a private CA, and one certificate
// that CA signs for every host named (the API's HTTPS on each node). It never replaces
// a file, so running it again (an init container at every start) changes nothing. Meant
// for a cluster that has no PKI of its own, such as docker-compose.yml's: with one, give
// the nodes its certificates instead.
func initSecrets(args []string, out io.Writer) error {
	fl := pflag.NewFlagSet(initSecretsCommand, pflag.ContinueOnError)
	dir := fl.String("dir", ".", "directory to write the secrets in")
	hosts := fl.StringSlice("hosts", []string{"localhost", "127.0.0.1"}, "host names and addresses the certificate is for, comma separated")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	path := func(name string) string { return filepath.Join(*dir, name) }
	if err := writeNew(path(secretClusterKey), []byte(cluster.NewClusterKey()+"\n"), out); err != nil {
		return err
	}
	if missing(path(secretCA)) {
		if err := makeCA(path(secretCA), path(secretCAKey), out); err != nil {
			return err
		}
	}
	if missing(path(secretCert)) {
		if err := makeCert(path(secretCA), path(secretCAKey), path(secretCert), path(secretCertKey), *hosts, out); err != nil {
			return err
		}
	}
	return nil
}

func missing(file string) bool {
	_, err := os.Stat(file)
	return errors.Is(err, fs.ErrNotExist)
}

// writeNew writes data to file, readable by its owner only, unless file exists.
func writeNew(file string, data []byte, out io.Writer) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s\n", file)
	return nil
}

func writePEM(file, kind string, der []byte, out io.Writer) error {
	return writeNew(file, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), out)
}

func makeCA(certFile, keyFile string, out io.Writer) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: "coal-mine private CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	return writeKeyPair(certFile, der, keyFile, key, out)
}

func makeCert(caFile, caKeyFile, certFile, keyFile string, hosts []string, out io.Writer) error {
	ca, caKey, err := loadCA(caFile, caKeyFile)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: "coal-mine"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(2, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	return writeKeyPair(certFile, der, keyFile, key, out)
}

// writeKeyPair writes a certificate and its private key as PEM files, the key first.
func writeKeyPair(certFile string, certDER []byte, keyFile string, key *ecdsa.PrivateKey, out io.Writer) error {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(keyFile, "EC PRIVATE KEY", keyDER, out); err != nil {
		return err
	}
	return writePEM(certFile, "CERTIFICATE", certDER, out)
}

func loadCA(certFile, keyFile string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("%s or %s is not PEM", certFile, keyFile)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func randomSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}
