package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"netconn.example/go/internal/loopback"
)

// The write-blocking, write-timeout and peer-close cases over tls.Conn (the
// repository's test certificates, -certs) and over net.UnixConn: the Go half
// of the probe's "tls: …" and "unix: …" rows.
func init() {
	for _, network := range []string{"tls", "unix"} {
		network := network
		register(network+"-write-blocking", func(string) (result, error) {
			return onTransport(network, false, writeBlocking)
		})
		register(network+"-write-timeout", func(string) (result, error) {
			return onTransport(network, true, writeTimeout)
		})
		register(network+"-close-peer", func(string) (result, error) {
			p, err := newTransportPair(network)
			if err != nil {
				return result{}, err
			}
			defer p.Close()
			p.server.Close()
			return writeAfterPeerClose(p.client)
		})
	}
}

// transportPair is a connected client and server over TLS or a unix socket.
type transportPair struct {
	client, server net.Conn
	ln             net.Listener
	dir            string // the unix socket's temp dir, removed on Close
}

// Close closes both conns and the listener and removes the socket's dir.
func (p *transportPair) Close() {
	p.client.Close()
	p.server.Close()
	p.ln.Close()
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}

// newTransportPair listens ("tls": tls.Listen with the server certificate for
// localhost; "unix": a socket in a temp dir), dials, accepts and, for TLS,
// completes both handshakes.
func newTransportPair(network string) (*transportPair, error) {
	p := &transportPair{}
	var dial func() (net.Conn, error)
	switch network {
	case "tls":
		server, client, err := tlsConfigs()
		if err != nil {
			return nil, err
		}
		if p.ln, err = tls.Listen("tcp", loopback.Host+":0", server); err != nil {
			return nil, err
		}
		dial = func() (net.Conn, error) { return tls.Dial("tcp", p.ln.Addr().String(), client) }
	case "unix":
		dir, err := os.MkdirTemp("", "netconn-probe-")
		if err != nil {
			return nil, err
		}
		p.dir = dir
		path := filepath.Join(dir, "conn.sock")
		if p.ln, err = net.Listen("unix", path); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		dial = func() (net.Conn, error) { return net.Dial("unix", path) }
	default:
		return nil, fmt.Errorf("unknown network %q", network)
	}
	type accepted struct {
		c   net.Conn
		err error
	}
	done := make(chan accepted, 1)
	go func() {
		c, err := p.ln.Accept()
		if err == nil {
			if t, ok := c.(*tls.Conn); ok {
				err = t.Handshake()
			}
		}
		done <- accepted{c, err}
	}()
	c, err := dial()
	if err != nil {
		p.ln.Close()
		os.RemoveAll(p.dir)
		return nil, err
	}
	a := <-done
	if a.err != nil {
		c.Close()
		p.ln.Close()
		os.RemoveAll(p.dir)
		return nil, a.err
	}
	p.client, p.server = c, a.c
	return p, nil
}

// tlsConfigs are the server's config (server.pem for "localhost") and the
// client's (verifying against ca.pem), from -certs.
func tlsConfigs() (server, client *tls.Config, err error) {
	if certDir == "" {
		return nil, nil, errors.New("the TLS cases need -certs (the repository's tests/certs)")
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(certDir, "server.pem"),
		filepath.Join(certDir, "server.key"))
	if err != nil {
		return nil, nil, err
	}
	ca, err := os.ReadFile(filepath.Join(certDir, "ca.pem"))
	if err != nil {
		return nil, nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		return nil, nil, errors.New("no certificate in ca.pem")
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}},
		&tls.Config{RootCAs: roots, ServerName: "localhost"}, nil
}

// onTransport runs a client-side case on a fresh pair whose server reads
// nothing; with drained, the server then reads everything ("received"),
// while the client closes (a TLS Close may write an alert to a full socket).
func onTransport(network string, drained bool, run func(c net.Conn) (result, error)) (result, error) {
	p, err := newTransportPair(network)
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	r, err := run(p.client)
	if err != nil || !drained {
		return r, err
	}
	type got struct {
		n      int
		intact bool
	}
	done := make(chan got, 1)
	go func() {
		n, intact := drain(p.server)
		done <- got{n, intact}
	}()
	p.client.Close()
	g := <-done
	r.Numbers["received"] = float64(g.n)
	r.Numbers["intact"] = b2f(g.intact)
	r.Text += fmt.Sprintf("; peer got %s", size(g.n))
	return r, nil
}
