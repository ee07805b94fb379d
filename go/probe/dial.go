package main

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"netconn.example/go/internal/loopback"
)

func init() {
	register("dial-refused", dialRefused)
	register("dial-backlog-full", func(string) (result, error) { return dialUntilHang(0) })
	register("backlog-n", func(string) (result, error) { return dialUntilHang(4) })
}

// dialRefused dials a port whose listener has just closed.
func dialRefused(string) (result, error) {
	ln, err := net.Listen("tcp", loopback.Host+":0")
	if err != nil {
		return result{}, err
	}
	addr := ln.Addr().String()
	ln.Close()
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	ms := msSince(start)
	if c != nil {
		c.Close()
	}
	return result{
		Text:    fmt.Sprintf("%s in %.1f ms", brief(err), ms),
		Numbers: map[string]float64{"ms": ms},
		Facts:   map[string]string{"error": kind(err)},
	}, nil
}

// rawListener listens on a free loopback port with the given backlog, which
// net.Listen does not take (it passes somaxconn). It never accepts.
func rawListener(backlog int) (fd int, port int, err error) {
	fd, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, err
	}
	if err = syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err == nil {
		err = syscall.Listen(fd, backlog)
	}
	var sa syscall.Sockaddr
	if err == nil {
		sa, err = syscall.Getsockname(fd)
	}
	if err != nil {
		syscall.Close(fd)
		return -1, 0, err
	}
	return fd, sa.(*syscall.SockaddrInet4).Port, nil
}

// dialUntilHang dials a listener that never accepts, with a 300 ms
// DialTimeout, until a dial times out.
func dialUntilHang(backlog int) (result, error) {
	const timeout = 300
	fd, port, err := rawListener(backlog)
	if err != nil {
		return result{}, err
	}
	defer syscall.Close(fd)
	addr := fmt.Sprintf("%s:%d", loopback.Host, port)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var ms float64
	for len(conns) < 64 {
		start := time.Now()
		c, derr := net.DialTimeout("tcp", addr, timeout*time.Millisecond)
		if derr != nil {
			err = derr
			ms = msSince(start)
			break
		}
		conns = append(conns, c)
	}
	timedOut := kind(err) == "timeout" && strings.Contains(brief(err), "timeout")
	return result{
		Text: fmt.Sprintf("backlog %d: %d Dial(s) connected, the next → %s after %.1f ms (timeout %d ms)",
			backlog, len(conns), brief(err), ms, timeout),
		Numbers: map[string]float64{"backlog": float64(backlog), "connected": float64(len(conns)),
			"timeoutMs": timeout, "ms": ms, "timedOut": b2f(timedOut)},
		Facts: map[string]string{"error": kind(err)},
	}, nil
}
