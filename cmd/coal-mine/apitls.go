package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
)

// certReloader serves the API's certificate, loaded again from its files on SIGHUP:
// a handshake takes the certificate current at that moment, so connections already open
// carry on, and a renewed certificate is in use without a restart. A reload that fails
// (a file half written, a key that does not match) keeps the certificate in use.
type certReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	if err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) reload() error {
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("load the API's certificate (%s, %s): %w", r.certFile, r.keyFile, err)
	}
	r.cert.Store(&cert)
	return nil
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.cert.Load(), nil }

// apiTLS is the API's TLS configuration, nil without a certificate: HTTPS, and with
// --verify-incoming, clients must show a certificate signed by --tls-ca-file.
func apiTLS(cfg Config, reloader *certReloader) (*tls.Config, error) {
	if reloader == nil {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: reloader.get}
	if cfg.VerifyIncoming {
		pool, err := loadCAPool(cfg.TLSCAFile)
		if err != nil {
			return nil, err
		}
		tc.ClientAuth = tls.RequireAndVerifyClientCert
		tc.ClientCAs = pool
	}
	return tc, nil
}

// leaderTLS is how this node talks HTTPS to the leader (a restore's upload): it trusts
// --tls-ca-file when there is one, the system's CAs otherwise, and shows its own
// certificate when the leader verifies clients.
func leaderTLS(cfg Config, reloader *certReloader) (*tls.Config, error) {
	if reloader == nil {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSCAFile != "" {
		pool, err := loadCAPool(cfg.TLSCAFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if cfg.VerifyIncoming {
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return reloader.cert.Load(), nil }
	}
	return tc, nil
}

func loadCAPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read the CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// settingWarnings are what an operator should hear about this node's settings, at start
// and in /readyz.
func settingWarnings(cfg Config, listener net.Addr) []string {
	var warnings []string
	if cfg.AuthKey == "" && !loopbackListener(cfg.Bind) {
		warnings = append(warnings, fmt.Sprintf("the API listens on %s without an auth key: anybody who reaches it may change anything (set --auth-key)", listener))
	}
	return warnings
}

// loopbackListener reports whether binding host keeps the API on loopback.
func loopbackListener(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func logWarnings(logger *slog.Logger, warnings []string) {
	for _, w := range warnings {
		logger.Warn(w)
	}
}
