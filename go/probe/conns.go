package main

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"netconn.example/go/internal/loopback"
)

// pair is a connected client and server conn and their listener.
type pair = loopback.Pair

// newPair listens on a free loopback port, dials it and accepts.
func newPair() (*pair, error) {
	return loopback.NewPair()
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
