package main

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
)

// loopback is the host every case uses.
const loopback = "127.0.0.1"

// pair is a connected client and server conn and their listener.
type pair struct {
	client, server *net.TCPConn
	ln             net.Listener
}

// close closes all three; closing twice is harmless here.
func (p *pair) close() {
	p.client.Close()
	p.server.Close()
	p.ln.Close()
}

// newPair listens on a free loopback port, dials it and accepts.
func newPair() (*pair, error) {
	ln, err := net.Listen("tcp", loopback+":0")
	if err != nil {
		return nil, err
	}
	accepted := make(chan net.Conn, 1)
	failed := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			failed <- err
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		ln.Close()
		return nil, err
	}
	select {
	case s := <-accepted:
		return &pair{c.(*net.TCPConn), s.(*net.TCPConn), ln}, nil
	case err := <-failed:
		c.Close()
		ln.Close()
		return nil, err
	}
}

// pattern is n bytes whose value at stream offset k is k & 0xff.
func pattern(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i)
	}
	return p
}

// drain reads r to EOF or an error, checking the pattern; returns the bytes
// read and whether all matched.
func drain(r io.Reader) (int, bool) {
	buf := make([]byte, 64*1024)
	total, intact := 0, true
	for {
		n, err := r.Read(buf)
		for i := 0; i < n; i++ {
			if buf[i] != byte(total+i) {
				intact = false
			}
		}
		total += n
		if err != nil {
			return total, intact
		}
	}
}

// kind names an error as netconn's NetError kinds do.
func kind(err error) string {
	switch {
	case err == nil:
		return "none"
	case errors.Is(err, io.EOF):
		return "eof"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, net.ErrClosed):
		return "closed"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken-pipe"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "other"
}

// brief is an error's message without the op and addresses Go puts first:
// "write tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout" becomes "i/o timeout".
func brief(err error) string {
	if err == nil {
		return "<nil>"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}
