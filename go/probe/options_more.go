package main

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"
)

func init() {
	register("keepalive-period", keepAlivePeriod)
	register("linger-zero", lingerZero)
	register("buffer-sizes", bufferSizes)
}

// keepAlivePeriod sets the period to 30 s, 9.001 s and 0 and reads back the
// idle time and interval after each.
func keepAlivePeriod(string) (result, error) {
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	read := func() (float64, float64) {
		idle := sockopt(p.Client, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
		interval := sockopt(p.Client, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL)
		return float64(idle * 1000), float64(interval * 1000)
	}
	p.Client.SetKeepAlive(true)
	p.Client.SetKeepAlivePeriod(30 * time.Second)
	idle30, interval30 := read()
	p.Client.SetKeepAlivePeriod(9001 * time.Millisecond)
	idleUp, intervalUp := read()
	zeroErr := p.Client.SetKeepAlivePeriod(0)
	idle0, interval0 := read()
	return result{
		Text: fmt.Sprintf("30 s → idle %g s, interval %g s; 9.001 s → %g s / %g s; 0 → %s, "+
			"%g s / %g s", idle30/1000, interval30/1000, idleUp/1000, intervalUp/1000,
			brief(zeroErr), idle0/1000, interval0/1000),
		Numbers: map[string]float64{"idle30": idle30, "interval30": interval30, "idleUp": idleUp,
			"intervalUp": intervalUp, "idle0": idle0, "interval0": interval0},
		Facts: map[string]string{"zero": kind(zeroErr)},
	}, nil
}

// fill writes 64 KiB at a time with 200 ms deadlines until a write waits past
// its deadline; returns the bytes the socket accepted.
func fill(c *net.TCPConn) (int, error) {
	buf := make([]byte, chunk)
	total := 0
	for total < runaway {
		c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := c.Write(buf)
		total += n
		if err != nil {
			if kind(err) == "timeout" {
				return total, nil
			}
			return total, err
		}
	}
	return total, fmt.Errorf("no write blocked within %s", size(runaway))
}

// closeFull fills the pipe of a fresh pair (the peer does not read), sets
// linger when asked, closes the writer, then reads everything the peer can.
func closeFull(linger int) (accepted, read int, end error, err error) {
	p, err := newPair()
	if err != nil {
		return 0, 0, nil, err
	}
	defer p.Close()
	if accepted, err = fill(p.Client); err != nil {
		return accepted, 0, nil, err
	}
	p.Client.SetWriteDeadline(time.Time{})
	if linger >= 0 {
		p.Client.SetLinger(linger)
	}
	p.Client.Close()
	buf := make([]byte, 256*1024)
	for end == nil {
		var n int
		n, end = p.Server.Read(buf)
		read += n
	}
	return accepted, read, end, nil
}

// lingerZero: SetLinger(0) then Close with unsent data resets; the default
// sends everything.
func lingerZero(string) (result, error) {
	zeroAccepted, zeroRead, zeroEnd, err := closeFull(0)
	if err != nil {
		return result{}, err
	}
	accepted, read, end, err := closeFull(-1)
	if err != nil {
		return result{}, err
	}
	return result{
		Text: fmt.Sprintf("linger 0: peer read %s of %s, then %s; default: %s, then %s",
			size(zeroRead), size(zeroAccepted), brief(zeroEnd), size(read), brief(end)),
		Numbers: map[string]float64{"accepted": float64(zeroAccepted), "read": float64(zeroRead),
			"defaultAccepted": float64(accepted), "defaultRead": float64(read)},
		Facts: map[string]string{"zeroEnd": kind(zeroEnd), "defaultEnd": kind(end)},
	}, nil
}

// bufferSizes asks for receive and send buffer sizes and reads back what the
// kernel made of them.
func bufferSizes(string) (result, error) {
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	get := func() (int, int) {
		return sockopt(p.Client, syscall.SOL_SOCKET, syscall.SO_RCVBUF),
			sockopt(p.Client, syscall.SOL_SOCKET, syscall.SO_SNDBUF)
	}
	r, w := get()
	numbers := map[string]float64{"defaultRead": float64(r), "defaultWrite": float64(w)}
	var parts []string
	for _, ask := range []int{0, 16 << 10, 64 << 10, 1 << 20, 64 << 20} {
		p.Client.SetReadBuffer(ask)
		p.Client.SetWriteBuffer(ask)
		r, w := get()
		numbers[fmt.Sprintf("read %d", ask)] = float64(r)
		numbers[fmt.Sprintf("write %d", ask)] = float64(w)
		parts = append(parts, fmt.Sprintf("%s → %s / %s", bufSize(ask), bufSize(r), bufSize(w)))
	}
	return result{
		Text:    "asked → got (read / write): " + strings.Join(parts, ", "),
		Numbers: numbers,
	}, nil
}

// bufSize prints a buffer size: whole KiB and MiB as such, else KiB with a decimal.
func bufSize(n int) string {
	switch {
	case n == 0:
		return "0"
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
}
