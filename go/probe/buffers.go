package main

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"netconn.example/go/internal/loopback"
)

// soReusePort is Linux's SO_REUSEPORT (the syscall package does not name it).
const soReusePort = 0xf

func init() {
	register("linger-one", lingerOne)
	register("rcvbuf-where", rcvbufWhere)
	register("reuseport", reusePort)
	register("sweep", sweepCells)
}

// lingerOne fills the pipe (the peer does not read), sets SetLinger(1) and
// closes; a goroutine ticking every 5 ms measures whether the rest of the
// program stalled meanwhile; then the peer reads everything it can.
func lingerOne(string) (result, error) {
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	accepted, err := fill(p.Client)
	if err != nil {
		return result{}, err
	}
	p.Client.SetWriteDeadline(time.Time{})
	if err := p.Client.SetLinger(1); err != nil {
		return result{}, err
	}
	stop := make(chan struct{})
	longest := make(chan time.Duration, 1)
	go func() {
		last, most := time.Now(), time.Duration(0)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case now := <-tick.C:
				if gap := now.Sub(last); gap > most {
					most = gap
				}
				last = now
			case <-stop:
				longest <- most
				return
			}
		}
	}()
	start := time.Now()
	p.Client.Close()
	closeMs := msSince(start)
	close(stop)
	stallMs := float64((<-longest).Milliseconds())
	buf := make([]byte, 256*1024)
	read := 0
	var end error
	for end == nil {
		var n int
		n, end = p.Server.Read(buf)
		read += n
	}
	return result{
		Text: fmt.Sprintf("Close returned after %.0f ms (its goroutine waited; the others ran, "+
			"longest gap %.0f ms); peer then read %s of %s, then %s",
			closeMs, stallMs, size(read), size(accepted), brief(end)),
		Numbers: map[string]float64{"accepted": float64(accepted), "read": float64(read),
			"closeMs": closeMs, "stallMs": stallMs},
		Facts: map[string]string{"end": kind(end)},
	}, nil
}

// cell is one cell of the write-block threshold grid: the sizes asked for
// (0: the OS default), NoDelay, and where the receive buffer is set.
type cell struct {
	snd, rcv   int
	noDelay    bool
	onAccepted bool // SO_RCVBUF on the accepted conn instead of the listener
}

// key names a cell as the probe's cellKey does.
func (c cell) key() string {
	side := func(n int) string {
		if n == 0 {
			return "default"
		}
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("snd %s rcv %s noDelay %s", side(c.snd), side(c.rcv),
		map[bool]string{true: "on", false: "off"}[c.noDelay])
}

// listenRcvbuf listens on a free loopback port, with SO_RCVBUF set on the
// listening socket before listen(2) (ListenConfig.Control) when rcv > 0.
func listenRcvbuf(rcv int) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		if rcv == 0 {
			return nil
		}
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcv)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp", loopback.Host+":0")
}

// measure finds a cell's threshold: the bytes 64 KiB writes get accepted by
// a peer that never reads before one blocks, with the kernel's buffer sizes.
func measure(c cell) (threshold, sndbuf, rcvbuf int, err error) {
	ln, err := listenRcvbuf(map[bool]int{true: 0, false: c.rcv}[c.onAccepted])
	if err != nil {
		return 0, 0, 0, err
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		s, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- s
	}()
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, 0, 0, err
	}
	client := d.(*net.TCPConn)
	defer client.Close()
	s, ok := <-accepted
	if !ok {
		return 0, 0, 0, fmt.Errorf("accept failed")
	}
	server := s.(*net.TCPConn)
	defer server.Close()
	client.SetNoDelay(c.noDelay)
	server.SetNoDelay(c.noDelay)
	if c.onAccepted && c.rcv > 0 {
		server.SetReadBuffer(c.rcv)
	}
	if c.snd > 0 {
		client.SetWriteBuffer(c.snd)
	}
	if threshold, err = fillUntilBlocked(client); err != nil {
		return 0, 0, 0, err
	}
	return threshold, sockopt(client, syscall.SOL_SOCKET, syscall.SO_SNDBUF),
		sockopt(server, syscall.SOL_SOCKET, syscall.SO_RCVBUF), nil
}

// fillUntilBlocked writes 64 KiB at a time, each with a deadline 50 ms ahead
// (grown by 5/4 after a false block), until a write blocks: a timed-out
// write counts as blocked when the rest of its buffer then stays unaccepted
// for 250 ms (longer than Linux's largest delayed ACK), as the probe's
// netconn side confirms it.
func fillUntilBlocked(c net.Conn) (int, error) {
	buf := make([]byte, chunk)
	wait := 50 * time.Millisecond
	accepted := 0
	for accepted < runaway {
		c.SetWriteDeadline(time.Now().Add(wait))
		n, err := c.Write(buf)
		accepted += n
		if err == nil {
			continue
		}
		if kind(err) != "timeout" {
			return accepted, err
		}
		c.SetWriteDeadline(time.Now().Add(250 * time.Millisecond))
		m, err := c.Write(buf[n:])
		accepted += m
		if m == 0 && kind(err) == "timeout" {
			return accepted, nil
		}
		if err != nil && kind(err) != "timeout" {
			return accepted, err
		}
		wait = wait * 5 / 4
	}
	return accepted, fmt.Errorf("no write blocked within %s", size(runaway))
}

// measureAll measures the cells at once, each on its own pair.
func measureAll(cells []cell) (map[string]float64, []string, error) {
	type out struct {
		threshold, snd, rcv int
		err                 error
	}
	outs := make([]out, len(cells))
	var wg sync.WaitGroup
	for i, c := range cells {
		wg.Add(1)
		go func(i int, c cell) {
			defer wg.Done()
			t, s, r, err := measure(c)
			outs[i] = out{t, s, r, err}
		}(i, c)
	}
	wg.Wait()
	numbers := map[string]float64{}
	var parts []string
	for i, c := range cells {
		o := outs[i]
		if o.err != nil {
			return nil, nil, fmt.Errorf("%s: %v", c.key(), o.err)
		}
		numbers[c.key()] = float64(o.threshold)
		numbers[c.key()+" sndbuf"] = float64(o.snd)
		numbers[c.key()+" rcvbuf"] = float64(o.rcv)
		parts = append(parts, fmt.Sprintf("%s × %s: %s", bufLabel(c.snd), bufLabel(c.rcv),
			kib(o.threshold)))
	}
	return numbers, parts, nil
}

// bufLabel is a size asked for, or "default".
func bufLabel(n int) string {
	if n == 0 {
		return "default"
	}
	return bufSize(n)
}

// kib prints a threshold as the probe does: KiB with a decimal below 1 MiB.
func kib(n int) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
}

// rcvbufWhere: SO_SNDBUF 64 KiB; the threshold with the default SO_RCVBUF,
// with 16 KiB on the listener (before listen, ListenConfig.Control), and
// with 16 KiB on the accepted conn (SetReadBuffer after accept).
func rcvbufWhere(string) (result, error) {
	cells := []cell{
		{snd: 64 << 10, noDelay: true},
		{snd: 64 << 10, rcv: 16 << 10, noDelay: true},
		{snd: 64 << 10, rcv: 16 << 10, noDelay: true, onAccepted: true},
	}
	numbers, _, err := measureAll(cells[:2])
	if err != nil {
		return result{}, err
	}
	more, _, err := measureAll(cells[2:])
	if err != nil {
		return result{}, err
	}
	get := func(c cell, what string) float64 {
		if c.onAccepted {
			return more[c.key()+what]
		}
		return numbers[c.key()+what]
	}
	n := map[string]float64{
		"defaultThreshold":  get(cells[0], ""),
		"listenerThreshold": get(cells[1], ""),
		"acceptedThreshold": get(cells[2], ""),
		"listenerRcvbuf":    get(cells[1], " rcvbuf"),
		"acceptedRcvbuf":    get(cells[2], " rcvbuf"),
	}
	return result{
		Text: fmt.Sprintf("SO_SNDBUF 64 KiB; Write blocked after: %s with the default SO_RCVBUF, "+
			"%s with 16 KiB on the listener (ListenConfig.Control), %s with 16 KiB on the "+
			"accepted conn (kernel: %s both ways)", kib(int(n["defaultThreshold"])),
			kib(int(n["listenerThreshold"])), kib(int(n["acceptedThreshold"])),
			bufSize(int(n["listenerRcvbuf"]))),
		Numbers: n,
	}, nil
}

// sweepCells measures a few cells of the write-block threshold grid (Go's
// default NoDelay): three on the diagonal the probe's normal run measures,
// two off it for --sweep.
func sweepCells(string) (result, error) {
	cells := []cell{
		{noDelay: true},
		{snd: 16 << 10, rcv: 16 << 10, noDelay: true},
		{snd: 256 << 10, rcv: 256 << 10, noDelay: true},
		{snd: 16 << 10, rcv: 1 << 20, noDelay: true},
		{snd: 1 << 20, rcv: 16 << 10, noDelay: true},
	}
	numbers, parts, err := measureAll(cells)
	if err != nil {
		return result{}, err
	}
	numbers["cells"] = float64(len(cells))
	return result{
		Text:    fmt.Sprintf("%d cells, NoDelay on: %s", len(cells), strings.Join(parts, "; ")),
		Numbers: numbers,
	}, nil
}

// reusePort: two listeners with SO_REUSEPORT (ListenConfig.Control) on one
// port; 20 dials, each read to EOF once a listener accepted and closed it.
func reusePort(string) (result, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	first, err := lc.Listen(context.Background(), "tcp", loopback.Host+":0")
	if err != nil {
		return result{}, err
	}
	defer first.Close()
	second, err := lc.Listen(context.Background(), "tcp", first.Addr().String())
	if err != nil {
		return result{Text: "the second listener failed: " + brief(err)}, err
	}
	defer second.Close()
	counts := make([]int, 2)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, ln := range []net.Listener{first, second} {
		wg.Add(1)
		go func(i int, ln net.Listener) {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				counts[i]++
				mu.Unlock()
				c.Close()
			}
		}(i, ln)
	}
	const dials = 20
	for i := 0; i < dials; i++ {
		c, err := net.Dial("tcp", first.Addr().String())
		if err != nil {
			return result{}, err
		}
		c.Read(make([]byte, 1)) // EOF once a listener has served it
		c.Close()
	}
	first.Close()
	second.Close()
	wg.Wait()
	got := []int{counts[0], counts[1]}
	sort.Ints(got)
	return result{
		Text: fmt.Sprintf("two listeners on port %d; %d dials → %d + %d accepted",
			first.Addr().(*net.TCPAddr).Port, dials, counts[0], counts[1]),
		Numbers: map[string]float64{"shared": 1, "dials": dials,
			"first": float64(counts[0]), "second": float64(counts[1])},
	}, nil
}
