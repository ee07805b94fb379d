package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"netconn.example/go/internal/loopback"
)

// Server-side STARTTLS: a plaintext "STARTTLS\n" answered "OK\n", then
// tls.Server over the same conn, a message each way over TLS and a close;
// and a client that pipelines bytes after "STARTTLS\n" in the clear, before
// its ClientHello (the command injection of CVE-2011-0411). The Go half of
// the probe's "tls: server STARTTLS" row: "starttls" is a Go server and a Go
// client; "starttls-client" is the same client, dialled to -addr (a netconn
// server), which reports the client's side only.
func init() {
	register("starttls", func(string) (result, error) { return starttlsGo() })
	register("starttls-client", starttlsClientCase)
}

const (
	// starttlsMessage is how many bytes of the counting pattern go each way over TLS.
	starttlsMessage = 64 * 1024
	// starttlsALPN is the protocol both sides offer.
	starttlsALPN = "netconn-probe"
	// starttlsInjected is what the pipelining client sends in the clear after STARTTLS.
	starttlsInjected = "MAIL FROM:<injected@example>\r\n"
	// starttlsLimit bounds every conn of the case.
	starttlsLimit = 5 * time.Second
)

// starttlsGo runs a Go server (tls.Server after the plaintext line) and the
// Go client on loopback: a clean upgrade, then a pipelining client.
func starttlsGo() (result, error) {
	serverCfg, _, err := starttlsConfigs()
	if err != nil {
		return result{}, err
	}
	ln, err := net.Listen("tcp", loopback.Host+":0")
	if err != nil {
		return result{}, err
	}
	defer ln.Close()
	type served struct {
		clean, injected result
		err             error
	}
	done := make(chan served, 1)
	go func() {
		var s served
		c, err := ln.Accept()
		if err != nil {
			s.err = err
			done <- s
			return
		}
		s.clean = starttlsServe(c, serverCfg)
		if c, err = ln.Accept(); err != nil {
			s.err = err
			done <- s
			return
		}
		s.injected = starttlsServeInjected(c, serverCfg)
		done <- s
	}()
	client, err := starttlsClientCase(ln.Addr().String())
	if err != nil {
		ln.Close()
		<-done
		return client, err
	}
	s := <-done
	if s.err != nil {
		return client, s.err
	}
	r := merge(client, s.clean, s.injected)
	r.Text = fmt.Sprintf("Go server: %s; %s; Go client: %s", s.clean.Text, s.injected.Text,
		client.Text)
	return r, nil
}

// starttlsConfigs are the server's config (server.pem, the ALPN protocol)
// and the client's (ca.pem, "localhost", the ALPN protocol).
func starttlsConfigs() (server, client *tls.Config, err error) {
	server, client, err = tlsConfigs()
	if err != nil {
		return nil, nil, err
	}
	server.NextProtos = []string{starttlsALPN}
	client.NextProtos = []string{starttlsALPN}
	return server, client, nil
}

// starttlsServe serves a clean upgrade: reads the line, answers, runs
// tls.Server's handshake, reads the client's message, sends its own, then
// reads the client's close. Its numbers and facts are the server's side.
func starttlsServe(raw net.Conn, cfg *tls.Config) result {
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(starttlsLimit))
	r := result{Numbers: map[string]float64{"serverHandshake": 0}, Facts: map[string]string{}}
	if err := starttlsAnswer(raw); err != nil {
		r.Facts["serverError"] = tlsKind(err)
		r.Text = fmt.Sprintf("plaintext line: %s", brief(err))
		return r
	}
	c := tls.Server(raw, cfg)
	if err := c.Handshake(); err != nil {
		r.Facts["serverError"] = tlsKind(err)
		r.Text = fmt.Sprintf("handshake: %s", brief(err))
		return r
	}
	r.Numbers["serverHandshake"] = 1
	state := c.ConnectionState()
	r.Facts["version"] = tlsVersion(state.Version)
	r.Facts["alpn"] = state.NegotiatedProtocol
	r.Facts["cipherSuite"] = tls.CipherSuiteName(state.CipherSuite)
	r.Numbers["verified"] = b2f(len(state.VerifiedChains) > 0)
	r.Numbers["peerCertificates"] = float64(len(state.PeerCertificates))
	got := make([]byte, starttlsMessage)
	n, err := io.ReadFull(c, got)
	r.Numbers["serverReceived"] = float64(n)
	r.Numbers["serverIntact"] = b2f(err == nil && intactPattern(got[:n]))
	if err != nil {
		r.Facts["serverError"] = tlsKind(err)
	} else if _, err = c.Write(pattern(starttlsMessage)); err != nil {
		r.Facts["serverError"] = tlsKind(err)
	}
	_, err = c.Read(make([]byte, 1))
	r.Facts["serverAfterClose"] = tlsKind(err)
	c.Close()
	r.Text = fmt.Sprintf("%s, ALPN %q, client verified %t; read %s, intact %t; then %s",
		r.Facts["version"], state.NegotiatedProtocol, len(state.VerifiedChains) > 0, size(n),
		r.Numbers["serverIntact"] == 1, r.Facts["serverAfterClose"])
	return r
}

// starttlsServeInjected greets the pipelining client with "READY\n", as an
// SMTP server greets, so it waits on its read when the command arrives, then
// serves it as starttlsServe does: the bytes after the line are left in the
// socket, so tls.Server's handshake reads them as the first record.
func starttlsServeInjected(raw net.Conn, cfg *tls.Config) result {
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(starttlsLimit))
	r := result{Numbers: map[string]float64{"injectedHandshake": 0}, Facts: map[string]string{}}
	_, err := raw.Write([]byte("READY\n"))
	if err == nil {
		err = starttlsAnswer(raw)
	}
	if err == nil {
		err = tls.Server(raw, cfg).Handshake()
	}
	if err == nil {
		r.Numbers["injectedHandshake"] = 1
		r.Facts["injected"] = "none"
		r.Text = "bytes before the hello: the handshake succeeded"
		return r
	}
	r.Facts["injected"] = tlsKind(err)
	r.Text = fmt.Sprintf("bytes before the hello: handshake failed (%s: %s)", r.Facts["injected"],
		brief(err))
	return r
}

// starttlsAnswer reads "STARTTLS\n" a byte at a time (nothing past it is
// read) and answers "OK\n".
func starttlsAnswer(c net.Conn) error {
	line, err := readLine(c)
	if err != nil {
		return err
	}
	if line != "STARTTLS\n" {
		return fmt.Errorf("expected STARTTLS, got %q", line)
	}
	_, err = c.Write([]byte("OK\n"))
	return err
}

// starttlsClientCase is the Go client, dialled to addr twice: a clean
// upgrade (its numbers: the handshake, what it got, what it saw of the
// server), then a client that sends bytes after "STARTTLS\n" before its
// hello ("injectedClient": what its handshake got).
func starttlsClientCase(addr string) (result, error) {
	_, cfg, err := starttlsConfigs()
	if err != nil {
		return result{}, err
	}
	clean, err := starttlsClient(addr, cfg)
	if err != nil {
		return clean, err
	}
	injected, err := starttlsClientInjected(addr, cfg)
	r := merge(clean, injected)
	r.Text = fmt.Sprintf("%s; %s", clean.Text, injected.Text)
	return r, err
}

// starttlsClient upgrades after "OK\n", sends the message, reads the
// server's, and closes.
func starttlsClient(addr string, cfg *tls.Config) (result, error) {
	r := result{Numbers: map[string]float64{"clientHandshake": 0}, Facts: map[string]string{}}
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		return r, err
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(starttlsLimit))
	if _, err := raw.Write([]byte("STARTTLS\n")); err != nil {
		return r, err
	}
	if line, err := readLine(raw); err != nil || line != "OK\n" {
		return r, fmt.Errorf("expected OK, got %q (%v)", line, err)
	}
	c := tls.Client(raw, cfg)
	if err := c.Handshake(); err != nil {
		r.Facts["clientError"] = tlsKind(err)
		r.Text = fmt.Sprintf("client handshake: %s", brief(err))
		return r, nil
	}
	r.Numbers["clientHandshake"] = 1
	state := c.ConnectionState()
	r.Numbers["clientVerified"] = b2f(len(state.VerifiedChains) > 0)
	r.Facts["clientVersion"] = tlsVersion(state.Version)
	r.Facts["clientAlpn"] = state.NegotiatedProtocol
	if _, err := c.Write(pattern(starttlsMessage)); err != nil {
		r.Facts["clientError"] = tlsKind(err)
	}
	got := make([]byte, starttlsMessage)
	n, err := io.ReadFull(c, got)
	r.Numbers["received"] = float64(n)
	r.Numbers["intact"] = b2f(err == nil && intactPattern(got[:n]))
	if err != nil {
		r.Facts["clientError"] = tlsKind(err)
	}
	c.Close() // close_notify, then the TCP close
	r.Text = fmt.Sprintf("client verified the server %t, got %s, intact %t",
		r.Numbers["clientVerified"] == 1, size(n), r.Numbers["intact"] == 1)
	return r, nil
}

// starttlsClientInjected reads the greeting, sends "STARTTLS\n" and the
// injected command in one write, reads "OK\n", then tries its handshake.
func starttlsClientInjected(addr string, cfg *tls.Config) (result, error) {
	r := result{Numbers: map[string]float64{"injectedClientHandshake": 0},
		Facts: map[string]string{}}
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		return r, err
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(starttlsLimit))
	if line, err := readLine(raw); err != nil || line != "READY\n" {
		return r, fmt.Errorf("expected READY, got %q (%v)", line, err)
	}
	if _, err := raw.Write([]byte("STARTTLS\n" + starttlsInjected)); err != nil {
		return r, err
	}
	line, err := readLine(raw)
	r.Facts["injectedAnswer"] = strings.TrimSpace(line)
	if err == nil {
		err = tls.Client(raw, cfg).Handshake()
	}
	if err == nil {
		r.Numbers["injectedClientHandshake"] = 1
		r.Facts["injectedClient"] = "none"
		r.Text = "the pipelining client's handshake succeeded"
		return r, nil
	}
	r.Facts["injectedClient"] = tlsKind(err)
	r.Text = fmt.Sprintf("the pipelining client's handshake failed (%s)", r.Facts["injectedClient"])
	return r, nil
}

// readLine reads up to and including '\n', a byte at a time (at most 64).
func readLine(c net.Conn) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for len(line) < 64 {
		if _, err := io.ReadFull(c, b); err != nil {
			return string(line), err
		}
		line = append(line, b[0])
		if b[0] == '\n' {
			return string(line), nil
		}
	}
	return string(line), errors.New("line too long")
}

// intactPattern reports whether p is the counting pattern from offset 0.
func intactPattern(p []byte) bool {
	for i, b := range p {
		if b != byte(i) {
			return false
		}
	}
	return true
}

// tlsKind is kind, with "tls" for a TLS error (a record that is not TLS,
// an alert, a failed verification), as netconn's NetError kinds say.
func tlsKind(err error) string {
	var header tls.RecordHeaderError
	if errors.As(err, &header) {
		return "tls"
	}
	k := kind(err)
	if k == "other" && strings.Contains(err.Error(), "tls: ") {
		return "tls"
	}
	return k
}

// tlsVersion names a TLS version as netconn's tlsState does.
func tlsVersion(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLSv1.3"
	case tls.VersionTLS12:
		return "TLSv1.2"
	}
	return fmt.Sprintf("0x%04x", v)
}

// merge is the numbers and facts of rs in one result.
func merge(rs ...result) result {
	out := result{Numbers: map[string]float64{}, Facts: map[string]string{}}
	for _, r := range rs {
		for k, v := range r.Numbers {
			out.Numbers[k] = v
		}
		for k, v := range r.Facts {
			out.Facts[k] = v
		}
	}
	return out
}
