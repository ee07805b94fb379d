package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func init() {
	register("read-no-data", readNoData)
	register("read-some", readSome)
	register("read-more", readMore)
	register("read-peer-closed", readPeerClosed)
	register("read-timeout-continue", readTimeoutContinue)
}

// readNoData: a Read with nothing to read must still wait after 150 ms;
// moving the deadline into the past ends it.
func readNoData(string) (result, error) {
	const waitMs = 150
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	done := make(chan error, 1)
	go func() {
		_, err := p.Server.Read(make([]byte, 64))
		done <- err
	}()
	waiting := true
	select {
	case err = <-done:
		waiting = false
	case <-time.After(waitMs * time.Millisecond):
	}
	start := time.Now()
	p.Server.SetReadDeadline(time.Now().Add(-time.Millisecond))
	if waiting {
		err = <-done
	}
	ms := msSince(start)
	state := "still waiting"
	if !waiting {
		state = "returned"
	}
	return result{
		Text: fmt.Sprintf("%s after %d ms; deadline moved to the past → %s in %.1f ms",
			state, waitMs, brief(err), ms),
		Numbers: map[string]float64{"waitedMs": waitMs, "unblockMs": ms, "waiting": b2f(waiting)},
		Facts:   map[string]string{"error": kind(err)},
	}, nil
}

// readSome: 10 bytes waiting, a 64-byte buffer.
func readSome(string) (result, error) {
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	if _, err := p.Client.Write([]byte("0123456789")); err != nil {
		return result{}, err
	}
	buf := make([]byte, 64)
	n, err := p.Server.Read(buf)
	return result{
		Text:    fmt.Sprintf("10 bytes sent, Read(64-byte buffer) → %d, %s", n, brief(err)),
		Numbers: map[string]float64{"sent": 10, "bufLen": 64, "n": float64(n)},
	}, err
}

// readMore: 100 bytes waiting, a 10-byte buffer; the rest follows in order.
func readMore(string) (result, error) {
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	sent := make([]byte, 100)
	for i := range sent {
		sent[i] = byte(i)
	}
	if _, err := p.Client.Write(sent); err != nil {
		return result{}, err
	}
	buf := make([]byte, 10)
	n, err := p.Server.Read(buf)
	if err != nil {
		return result{}, err
	}
	got := append([]byte{}, buf[:n]...)
	for len(got) < 100 {
		m, err := p.Server.Read(buf)
		if err != nil {
			return result{}, err
		}
		got = append(got, buf[:m]...)
	}
	inOrder := bytes.Equal(got, sent)
	order := "in order"
	if !inOrder {
		order = "OUT OF ORDER"
	}
	return result{
		Text: fmt.Sprintf("100 bytes sent, Read(10-byte buffer) → %d; next Reads got %d, %s",
			n, len(got)-n, order),
		Numbers: map[string]float64{"sent": 100, "bufLen": 10, "n": float64(n),
			"rest": float64(len(got) - n), "inOrder": b2f(inOrder)},
	}, nil
}

// readPeerClosed: the peer writes 5 bytes and closes.
func readPeerClosed(string) (result, error) {
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	if _, err := p.Client.Write([]byte("hello")); err != nil {
		return result{}, err
	}
	p.Client.Close()
	buf := make([]byte, 64)
	first, err1 := p.Server.Read(buf)
	data := string(buf[:first])
	second, err2 := p.Server.Read(buf)
	third, err3 := p.Server.Read(buf)
	eofs := 0
	for _, e := range []error{err2, err3} {
		if errors.Is(e, io.EOF) {
			eofs++
		}
	}
	return result{
		Text: fmt.Sprintf("Read → %d %q %s, then %d %s, then %d %s",
			first, data, brief(err1), second, brief(err2), third, brief(err3)),
		Numbers: map[string]float64{"first": float64(first), "eofReads": float64(eofs)},
	}, nil
}

// readTimeoutContinue: a Read times out after 50 ms; bytes sent afterwards
// reach the next Read.
func readTimeoutContinue(string) (result, error) {
	const waitMs = 50
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	buf := make([]byte, 64)
	p.Server.SetReadDeadline(time.Now().Add(waitMs * time.Millisecond))
	start := time.Now()
	_, rerr := p.Server.Read(buf)
	ms := msSince(start)
	p.Server.SetReadDeadline(time.Time{})
	if _, err := p.Client.Write([]byte("still here")); err != nil {
		return result{}, err
	}
	n, err := p.Server.Read(buf)
	timeout := errors.Is(rerr, os.ErrDeadlineExceeded) && strings.Contains(rerr.Error(), "i/o timeout")
	return result{
		Text: fmt.Sprintf("%s after %.1f ms (deadline %d ms); next Read → %d %q",
			brief(rerr), ms, waitMs, n, string(buf[:n])),
		Numbers: map[string]float64{"deadlineMs": waitMs, "timeoutMs": ms, "nextRead": float64(n),
			"timeout": b2f(timeout)},
	}, err
}
