package main

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"netconn.example/go/internal/loopback"
)

func init() {
	register("nagle", nagle)
	register("option-nodelay", optionNoDelay)
	register("keepalive-defaults", keepAliveDefaults)
	register("default-backlog", defaultBacklog)
}

// sockopt reads an int socket option of c.
func sockopt(c syscall.Conn, level, opt int) int {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1
	}
	v := -1
	raw.Control(func(fd uintptr) {
		if got, err := syscall.GetsockoptInt(int(fd), level, opt); err == nil {
			v = got
		}
	})
	return v
}

// roundTrips is the median ms of 8 exchanges on p: two 10-byte writes, then a
// 1-byte reply.
func roundTrips(p *pair) float64 {
	const rounds = 8
	go func() {
		req := make([]byte, 20)
		for i := 0; i < rounds; i++ {
			for off := 0; off < len(req); {
				n, err := p.Server.Read(req[off:])
				if err != nil {
					return
				}
				off += n
			}
			p.Server.Write(req[:1])
		}
	}()
	head, body, reply := make([]byte, 10), make([]byte, 10), make([]byte, 1)
	times := make([]float64, 0, rounds)
	for i := 0; i < rounds; i++ {
		start := time.Now()
		p.Client.Write(head)
		p.Client.Write(body)
		if _, err := p.Client.Read(reply); err != nil {
			break
		}
		times = append(times, float64(time.Since(start).Microseconds())/1000)
	}
	if len(times) == 0 {
		return -1
	}
	sort.Float64s(times)
	mid := len(times) / 2
	if len(times)%2 == 1 {
		return times[mid]
	}
	return float64(int((times[mid-1]+times[mid])/2*100)) / 100
}

// nagle times write-write-read with Go's default (no delay) and with Nagle on.
func nagle(string) (result, error) {
	fastPair, err := newPair()
	if err != nil {
		return result{}, err
	}
	fast := roundTrips(fastPair)
	fastPair.Close()
	slowPair, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer slowPair.Close()
	slowPair.Client.SetNoDelay(false)
	slow := roundTrips(slowPair)
	return result{
		Text:    fmt.Sprintf("default (NoDelay) %.2f ms; SetNoDelay(false) %.2f ms (median of 8)", fast, slow),
		Numbers: map[string]float64{"noDelayMs": fast, "nagleMs": slow, "rounds": 8},
	}, nil
}

// optionNoDelay reads TCP_NODELAY on a dialled and an accepted conn, and
// after each setter call.
func optionNoDelay(string) (result, error) {
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	get := func(c *net.TCPConn) int { return sockopt(c, syscall.IPPROTO_TCP, syscall.TCP_NODELAY) }
	dialed, accepted := get(p.Client), get(p.Server)
	p.Client.SetNoDelay(false)
	off := get(p.Client)
	p.Client.SetNoDelay(true)
	on := get(p.Client)
	return result{
		Text: fmt.Sprintf("dialed %t, accepted %t; SetNoDelay(false) → %t, SetNoDelay(true) → %t",
			dialed == 1, accepted == 1, off == 1, on == 1),
		Numbers: map[string]float64{"dialed": float64(dialed), "accepted": float64(accepted),
			"afterFalse": float64(off), "afterTrue": float64(on)},
	}, nil
}

// keepAliveDefaults reads the keepalive options Dial and Accept leave.
func keepAliveDefaults(string) (result, error) {
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	numbers := map[string]float64{}
	var parts []string
	for _, side := range []struct {
		name string
		c    *net.TCPConn
	}{{"dialed", p.Client}, {"accepted", p.Server}} {
		on := sockopt(side.c, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
		idle := sockopt(side.c, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
		interval := sockopt(side.c, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL)
		count := sockopt(side.c, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT)
		numbers[side.name+"Idle"] = float64(idle * 1000)
		numbers[side.name+"Interval"] = float64(interval * 1000)
		numbers[side.name+"Count"] = float64(count)
		numbers[side.name+"On"] = float64(on)
		state := "off"
		if on == 1 {
			state = "on"
		}
		parts = append(parts, fmt.Sprintf("%s %s %d s / %d s / %d", side.name, state, idle, interval, count))
	}
	return result{
		Text:    strings.Join(parts, ", ") + " (on, idle / interval / count)",
		Numbers: numbers,
	}, nil
}

// defaultBacklog reads the accept-queue limit the kernel keeps for a
// net.Listen listener (TCP_INFO's tcpi_sacked on a listening socket).
func defaultBacklog(string) (result, error) {
	ln, err := net.Listen("tcp", loopback.Host+":0")
	if err != nil {
		return result{}, err
	}
	defer ln.Close()
	raw, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		return result{}, err
	}
	var info syscall.TCPInfo
	var gerr error
	raw.Control(func(fd uintptr) {
		size := uint32(unsafe.Sizeof(info))
		_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP,
			syscall.TCP_INFO, uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&size)), 0)
		if errno != 0 {
			gerr = errno
		}
	})
	if gerr != nil {
		return result{}, gerr
	}
	somaxconn := -1
	if b, err := os.ReadFile("/proc/sys/net/core/somaxconn"); err == nil {
		somaxconn, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	return result{
		Text: fmt.Sprintf("somaxconn %d; the listener's accept-queue limit (TCP_INFO) %d",
			somaxconn, info.Sacked),
		Numbers: map[string]float64{"somaxconn": float64(somaxconn), "acceptQueueLimit": float64(info.Sacked)},
	}, nil
}
