package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

const (
	chunk   = 64 * 1024         // the article's client writes 64 KiB at a time
	big     = 8 * 1024 * 1024   // one large write to a reading peer
	huge    = 32 * 1024 * 1024  // one write that cannot fit in the socket buffers
	runaway = 512 * 1024 * 1024 // a writer that never blocks is broken
)

func init() {
	register("write-success", writeSuccess)
	register("write-blocking", func(string) (result, error) { return onPair(writeBlocking) })
	register("write-blocking-client", func(addr string) (result, error) { return onDial(addr, writeBlocking) })
	register("partial-write", partialWrite)
	register("write-timeout", func(string) (result, error) { return onPairDrained(writeTimeout) })
	register("write-timeout-client", func(addr string) (result, error) { return onDial(addr, writeTimeout) })
	register("concurrent-writers", concurrentWriters)
}

// onPair runs a client-side case on a fresh loopback pair whose server
// never reads.
func onPair(run func(c net.Conn) (result, error)) (result, error) {
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	return run(p.Client)
}

// onPairDrained is onPair, then the client closes and the server reads
// everything: "received" is what reached the peer.
func onPairDrained(run func(c net.Conn) (result, error)) (result, error) {
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	r, err := run(p.Client)
	if err != nil {
		return r, err
	}
	p.Client.Close()
	received, intact := drain(p.Server)
	r.Numbers["received"] = float64(received)
	r.Numbers["intact"] = b2f(intact)
	r.Text += fmt.Sprintf("; peer got %s", size(received))
	return r, nil
}

// onDial runs a client-side case on a conn dialled to addr (a netconn
// server); the conn is closed when it returns.
func onDial(addr string, run func(c net.Conn) (result, error)) (result, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return result{}, err
	}
	defer c.Close()
	return run(c)
}

// writeSuccess writes 8 MiB at once to a peer that reads everything.
func writeSuccess(string) (result, error) {
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	type got struct {
		n      int
		intact bool
	}
	done := make(chan got, 1)
	go func() {
		n, ok := drain(p.Server)
		done <- got{n, ok}
	}()
	start := time.Now()
	n, err := p.Client.Write(pattern(big))
	ms := msSince(start)
	p.Client.Close()
	g := <-done
	text := fmt.Sprintf("Write(8 MiB) → %d, %s (%.1f ms); peer got %s", n, brief(err), ms, size(g.n))
	if g.intact {
		text += " intact"
	}
	return result{Text: text, Numbers: map[string]float64{
		"requested": big, "returned": float64(n), "received": float64(g.n), "ms": ms,
	}}, err
}

// writeBlocking writes 64 KiB at a time, each with a deadline 200 ms ahead,
// until one write waits past its deadline: the socket buffers are full.
func writeBlocking(c net.Conn) (result, error) {
	const waitMs = 200
	buf := make([]byte, chunk)
	total, writes := 0, 0
	var err error
	var n int
	for total < runaway {
		c.SetWriteDeadline(time.Now().Add(waitMs * time.Millisecond))
		n, err = c.Write(buf)
		if err != nil {
			break
		}
		total += n
		writes++
	}
	if kind(err) != "timeout" {
		return result{Text: "no timeout: " + brief(err)}, errors.New("the write did not time out")
	}
	return result{
		Text: fmt.Sprintf("%d Writes of 64 KiB went through (%s), the next: %s at %d ms, n = %d",
			writes, size(total), brief(err), waitMs, n),
		Numbers: map[string]float64{
			"accepted": float64(total + n), "fullWrites": float64(writes),
			"timedOutBytesWritten": float64(n), "waitMs": waitMs,
		},
		Facts: map[string]string{"error": kind(err)},
	}, nil
}

// partialWrite writes 32 MiB at once to a peer that does not read; once the
// write has had time to block, the peer closes with data unread (a reset).
func partialWrite(string) (result, error) {
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	type out struct {
		n   int
		err error
	}
	done := make(chan out, 1)
	go func() {
		n, err := p.Client.Write(make([]byte, huge))
		done <- out{n, err}
	}()
	select {
	case o := <-done:
		return result{Text: "the write did not block"}, fmt.Errorf("returned %d, %v", o.n, o.err)
	case <-time.After(300 * time.Millisecond):
	}
	p.Server.Close()
	start := time.Now()
	o := <-done
	ms := msSince(start)
	return result{
		Text: fmt.Sprintf("Write(32 MiB) blocked; peer reset → n = %d, %s in %.1f ms",
			o.n, brief(o.err), ms),
		Numbers: map[string]float64{"requested": huge, "bytesWritten": float64(o.n), "ms": ms},
		Facts:   map[string]string{"error": kind(o.err)},
	}, nil
}

// writeTimeout is the article's client6: a deadline 10 µs ahead on every
// 64 KiB write, until one times out.
func writeTimeout(c net.Conn) (result, error) {
	const ahead = 10 * time.Microsecond
	buf := pattern(chunk)
	total, writes := 0, 0
	var n int
	var err error
	for total < runaway {
		c.SetWriteDeadline(time.Now().Add(ahead))
		n, err = c.Write(buf)
		if err != nil {
			break
		}
		total += n
		writes++
	}
	timeout := errors.Is(err, os.ErrDeadlineExceeded) && strings.Contains(err.Error(), "i/o timeout")
	return result{
		Text: fmt.Sprintf("+10 µs deadlines: %d full Writes (%s), then %s with n = %d",
			writes, size(total), brief(err), n),
		Numbers: map[string]float64{
			"aheadUs": 10, "fullWrites": float64(writes), "total": float64(total),
			"bytesWritten": float64(n), "timeout": b2f(timeout),
		},
		Facts: map[string]string{"error": kind(err)},
	}, nil
}

// concurrentWriters: 8 goroutines each write 6 frames of 256 KiB (every byte
// the writer's id) to one conn while a slow reader checks every frame.
func concurrentWriters(string) (result, error) {
	const writers, frames, frame = 8, 6, 256 * 1024
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	var wg sync.WaitGroup
	for id := 1; id <= writers; id++ {
		wg.Add(1)
		go func(id byte) {
			defer wg.Done()
			buf := make([]byte, frame)
			for i := range buf {
				buf[i] = id
			}
			for i := 0; i < frames; i++ {
				if _, err := p.Client.Write(buf); err != nil {
					return
				}
			}
		}(byte(id))
	}
	block := make([]byte, frame)
	whole, broken := 0, 0
	for f := 0; f < writers*frames; f++ {
		for off := 0; off < frame; {
			end := off + 64*1024
			if end > frame {
				end = frame
			}
			n, err := p.Server.Read(block[off:end])
			if err != nil {
				return result{}, fmt.Errorf("read after %d frames: %v", f, err)
			}
			off += n
		}
		uniform := true
		for _, b := range block {
			if b != block[0] {
				uniform = false
				break
			}
		}
		if uniform {
			whole++
		} else {
			broken++
		}
		if f%4 == 3 {
			time.Sleep(time.Millisecond)
		}
	}
	wg.Wait()
	return result{
		Text: fmt.Sprintf("%d goroutines x %d frames of 256 KiB: %d/%d whole, %d interleaved",
			writers, frames, whole, writers*frames, broken),
		Numbers: map[string]float64{"frames": writers * frames, "whole": float64(whole),
			"interleaved": float64(broken)},
	}, nil
}
