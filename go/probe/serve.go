package main

import (
	"fmt"
	"io"
	"net"
	"os"

	"netconn.example/go/internal/loopback"
)

func init() {
	register("serve-noread", func(string) (result, error) { return serve(false) })
	register("serve-drain", func(string) (result, error) { return serve(true) })
}

// serve listens on a free loopback port, prints {"port": N}, accepts one
// conn and reads nothing until stdin ends (the probe closes it when its
// client has finished writing); with drain it then reads the conn to EOF and
// reports what arrived.
func serve(drainAfter bool) (result, error) {
	c, err := acceptOne()
	if err != nil {
		return result{}, err
	}
	defer c.Close()
	io.Copy(io.Discard, os.Stdin)
	if !drainAfter {
		return result{Text: "accepted, read nothing"}, nil
	}
	received, intact := drain(c)
	return result{
		Text:    fmt.Sprintf("Go server read %s, intact %t", size(received), intact),
		Numbers: map[string]float64{"received": float64(received), "intact": b2f(intact)},
	}, nil
}

// acceptOne listens on a free loopback port, prints {"port": N} for the
// probe, accepts one conn and stops listening.
func acceptOne() (net.Conn, error) {
	ln, err := net.Listen("tcp", loopback.Host+":0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	say(map[string]int{"port": ln.Addr().(*net.TCPAddr).Port})
	return ln.Accept()
}
