package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"
)

// benchConn is one keep-alive HTTP/1.1 connection that sends prepared requests and
// reads each answer on the calling goroutine, as wrk does. net/http's Transport hands
// every request to a writer and a reader goroutine of the connection and back; on a
// machine whose cores the servers under test share with the load, those hand-offs took
// more CPU than the write and the read themselves, and that CPU is taken from the
// servers measured: on a 3-node cluster on this project's 2-core machine, with 32
// connections, cmcli used 0.34-0.35 of a core for 4,700-5,500 triggers/s through
// net/http's client and 0.21-0.22 for 5,800-6,100 triggers/s with this one.
type benchConn struct {
	addr    string      // host:port to dial
	tls     *tls.Config // nil for plain HTTP
	timeout time.Duration
	dials   *atomic.Int64

	conn net.Conn
	br   *bufio.Reader
	read int64 // bytes read from the connections so far
}

// countingReader counts what the answers' reader takes from the connection.
type countingReader struct {
	r io.Reader
	n *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// wireRequest is a request serialized once, with the address it goes to.
type wireRequest struct {
	addr  string
	tls   *tls.Config
	bytes []byte
}

// serializeRequest writes req in HTTP/1.1 wire form. Every answer is read to its end,
// so the connection stays usable for the next request.
func serializeRequest(req *http.Request) (wireRequest, error) {
	if req.URL.User != nil {
		return wireRequest{}, fmt.Errorf("%w: %s", errURLCredentials, req.URL.Redacted())
	}
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		return wireRequest{}, fmt.Errorf("serializing the request to %s: %w", req.URL, err)
	}
	w := wireRequest{addr: req.URL.Host, bytes: buf.Bytes()}
	port := "80"
	if req.URL.Scheme == "https" {
		port = "443"
		w.tls = &tls.Config{ServerName: req.URL.Hostname()}
	}
	if req.URL.Port() == "" {
		w.addr = net.JoinHostPort(req.URL.Hostname(), port)
	}
	return w, nil
}

// do sends req and reads the answer: its status, and its body when the status is not
// 200 (up to 4 KiB, for the error's example). A failed exchange closes the connection;
// the next do dials a new one. As net/http does, a request that got nothing back on a
// kept-alive connection (the server closed it while it was idle) is sent once more on a
// new one rather than counted as an error.
func (c *benchConn) do(req []byte) (status int, body []byte, err error) {
	reused, readBefore := c.conn != nil, c.read
	status, body, err = c.exchange(req)
	if err != nil && reused && c.read == readBefore {
		status, body, err = c.exchange(req)
	}
	return status, body, err
}

func (c *benchConn) exchange(req []byte) (status int, body []byte, err error) {
	if c.conn == nil {
		if err := c.dial(); err != nil {
			return 0, nil, err
		}
	}
	if err := c.conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		c.close()
		return 0, nil, err
	}
	if _, err := c.conn.Write(req); err != nil {
		c.close()
		return 0, nil, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.close()
		return 0, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		body, err = io.ReadAll(io.LimitReader(resp.Body, 4096))
	}
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	if err != nil || resp.Close {
		c.close()
	}
	return resp.StatusCode, body, err
}

func (c *benchConn) dial() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	c.dials.Add(1)
	var conn net.Conn
	var err error
	if c.tls != nil {
		d := tls.Dialer{Config: c.tls}
		conn, err = d.DialContext(ctx, "tcp", c.addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", c.addr)
	}
	if err != nil {
		return err
	}
	c.conn = conn
	src := countingReader{r: conn, n: &c.read}
	if c.br == nil {
		c.br = bufio.NewReaderSize(src, 4096)
	} else {
		c.br.Reset(src)
	}
	return nil
}

func (c *benchConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// errURLCredentials is returned for a node URL with a user name or password in it, which
// the bench would not send.
var errURLCredentials = errors.New("the bench does not send credentials given in the URL")

// errMixedHosts is returned when a target's requests do not all go to one node.
var errMixedHosts = errors.New("the bench requests go to more than one host")

// transportErrorKind names a failure that got no HTTP response.
func transportErrorKind(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	default:
		return "transport error"
	}
}
