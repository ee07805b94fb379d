// Package loopback opens the connected TCP pairs on 127.0.0.1 that the
// probe's cases and the peers comparison measure Go on.
package loopback

import "net"

// Host is the loopback host every case uses.
const Host = "127.0.0.1"

// Pair is a connected client and server conn and their listener.
type Pair struct {
	Client, Server *net.TCPConn
	Ln             net.Listener
}

// Close closes all three; closing twice is harmless here.
func (p *Pair) Close() {
	p.Client.Close()
	p.Server.Close()
	p.Ln.Close()
}

// NewPair listens on a free loopback port, dials it and accepts. The
// listener stays open until Close.
func NewPair() (*Pair, error) {
	ln, err := net.Listen("tcp", Host+":0")
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
		return &Pair{c.(*net.TCPConn), s.(*net.TCPConn), ln}, nil
	case err := <-failed:
		c.Close()
		ln.Close()
		return nil, err
	}
}
