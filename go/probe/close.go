package main

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// closedText is what Go says about a conn this side has closed.
const closedText = "use of closed network connection"

func init() {
	register("close-own", closeOwn)
	register("close-twice", closeTwice)
	register("close-peer", closePeer)
	register("serve-close", serveClose)
	register("close-client", func(addr string) (result, error) { return onDial(addr, writeAfterPeerClose) })
}

// closeOwn: a Read pending at Close, and a Read and a Write after it.
func closeOwn(string) (result, error) {
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	pending := make(chan error, 1)
	go func() {
		_, err := p.Client.Read(make([]byte, 32))
		pending <- err
	}()
	time.Sleep(10 * time.Millisecond) // let the Read start waiting
	p.Client.Close()
	errs := []error{<-pending}
	_, err = p.Client.Read(make([]byte, 32))
	errs = append(errs, err)
	_, err = p.Client.Write(make([]byte, 32))
	errs = append(errs, err)
	closed := 0
	for _, e := range errs {
		if e != nil && strings.Contains(e.Error(), closedText) {
			closed++
		}
	}
	return result{
		Text:    fmt.Sprintf("pending Read, Read, Write → %q (%d of 3)", brief(errs[1]), closed),
		Numbers: map[string]float64{"closedErrors": float64(closed), "ops": 3},
	}, nil
}

// closeTwice: the second Close's result.
func closeTwice(string) (result, error) {
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	first := p.Client.Close()
	second := p.Client.Close()
	return result{
		Text:    fmt.Sprintf("first Close → %s, second → %q", brief(first), brief(second)),
		Numbers: map[string]float64{"threw": b2f(second != nil)},
	}, nil
}

// closePeer: the peer closes at once.
func closePeer(string) (result, error) {
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	p.Server.Close()
	return writeAfterPeerClose(p.Client)
}

// writeAfterPeerClose reads (EOF once the peer has closed), then writes 10
// bytes every 5 ms until a write fails.
func writeAfterPeerClose(c net.Conn) (result, error) {
	_, rerr := c.Read(make([]byte, 32))
	ok := 0
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		if _, err = c.Write(make([]byte, 10)); err == nil {
			ok++
		}
		time.Sleep(5 * time.Millisecond) // let the peer's RST arrive
	}
	return result{
		Text: fmt.Sprintf("Read → %s; %d Write(s) of 10 bytes succeeded, then %s",
			brief(rerr), ok, brief(err)),
		Numbers: map[string]float64{"writesBeforeError": float64(ok), "eof": b2f(kind(rerr) == "eof")},
		Facts:   map[string]string{"error": kind(err)},
	}, nil
}

// serveClose accepts one conn and closes it at once (the peer of a netconn
// client in the cross-runtime close row).
func serveClose(string) (result, error) {
	c, err := acceptOne()
	if err != nil {
		return result{}, err
	}
	c.Close()
	return result{Text: "accepted, closed at once"}, nil
}
