// The peers comparison, Go's side: net and bufio, both ends of a loopback
// pair in this one process, each end in its own goroutine. Run by
// bench/compare/run.ts, which builds it (`go build ./compare` in the go/
// module, cached as the probe's program is); it speaks the JSON lines described in
// bench/compare/deno.ts, whose workloads and checks it repeats. Go's
// "msg-buf" and "msg-buf-fast" both write through a bufio.Writer
// (bufio has no slower path).
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"time"

	"netconn.example/go/internal/loopback"
)

const (
	msgSize   = 64
	pingSize  = 32
	chunkSize = 64 * 1024
	frameSize = 1024

	bulkMiB  = 16
	rounds   = 1000
	messages = 2000
	buffered = 20000
	frames   = 1600
)

// ---- the workloads: one unit of work each, checked ----

var source = func() []byte {
	b := make([]byte, chunkSize)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// both runs send in a goroutine and receive here; it returns the first error.
func both(send func() error, receive func() error) error {
	done := make(chan error, 1)
	go func() { done <- send() }()
	errReceive := receive()
	errSend := <-done
	if errReceive != nil {
		return errReceive
	}
	return errSend
}

func bulk(from, to net.Conn, total int) error {
	return both(func() error {
		for sent := 0; sent < total; sent += chunkSize {
			if _, err := from.Write(source); err != nil {
				return err
			}
		}
		return nil
	}, func() error {
		buf := make([]byte, chunkSize)
		for got := 0; got < total; {
			n, err := to.Read(buf)
			if err != nil {
				return fmt.Errorf("bulk: after %d of %d bytes: %w", got, total, err)
			}
			if buf[0] != byte(got) || buf[n-1] != byte(got+n-1) {
				return fmt.Errorf("bulk: wrong byte near offset %d", got)
			}
			got += n
		}
		return nil
	})
}

func pingPong(client, server net.Conn, rounds int) error {
	return both(func() error {
		msg := make([]byte, pingSize)
		for i := 0; i < rounds; i++ {
			if _, err := io.ReadFull(server, msg); err != nil {
				return err
			}
			if _, err := server.Write(msg); err != nil {
				return err
			}
		}
		return nil
	}, func() error {
		msg := make([]byte, pingSize)
		back := make([]byte, pingSize)
		for i := 0; i < rounds; i++ {
			binary.BigEndian.PutUint32(msg, uint32(i))
			msg[pingSize-1] = byte(i)
			if _, err := client.Write(msg); err != nil {
				return err
			}
			if _, err := io.ReadFull(client, back); err != nil {
				return err
			}
			if !bytes.Equal(back, msg) {
				return fmt.Errorf("pingpong: round %d echoed wrong", i)
			}
		}
		return nil
	})
}

func newMessage() []byte {
	msg := make([]byte, msgSize)
	for j := range msg {
		msg[j] = byte(32 + j)
	}
	return msg
}

func stamp(msg []byte, m int) {
	binary.BigEndian.PutUint32(msg, uint32(m))
	msg[msgSize-1] = byte(m)
}

func messageByte(m, j int) byte {
	switch {
	case j < 4:
		return byte(uint32(m) >> (24 - 8*j))
	case j == msgSize-1:
		return byte(m)
	default:
		return byte(32 + j)
	}
}

var checked = []int{0, 1, 2, 3, 20, msgSize - 1}

func receiveMessages(to net.Conn, count int) error {
	buf := make([]byte, chunkSize)
	total := count * msgSize
	for off := 0; off < total; {
		want := total - off
		if want > chunkSize {
			want = chunkSize
		}
		n, err := to.Read(buf[:want])
		if err != nil {
			return fmt.Errorf("msg: after %d of %d bytes: %w", off, total, err)
		}
		end := off + n
		for m := off / msgSize; m*msgSize < end; m++ {
			for _, j := range checked {
				k := m*msgSize + j
				if k >= off && k < end && buf[k-off] != messageByte(m, j) {
					return fmt.Errorf("msg: message %d arrived torn or out of order (byte %d)", m, j)
				}
			}
		}
		off = end
	}
	return nil
}

func unbuffered(from, to net.Conn, count int) error {
	return both(func() error {
		msg := newMessage()
		for m := 0; m < count; m++ {
			stamp(msg, m)
			if _, err := from.Write(msg); err != nil {
				return err
			}
		}
		return nil
	}, func() error { return receiveMessages(to, count) })
}

func bufferedSend(bw *bufio.Writer, to net.Conn, count int) error {
	return both(func() error {
		msg := newMessage()
		for m := 0; m < count; m++ {
			stamp(msg, m)
			if _, err := bw.Write(msg); err != nil {
				return err
			}
		}
		return bw.Flush()
	}, func() error { return receiveMessages(to, count) })
}

func newFrame(writer int) []byte {
	frame := make([]byte, frameSize)
	for j := range frame {
		frame[j] = byte(writer + j)
	}
	binary.BigEndian.PutUint32(frame, frameSize-4)
	binary.BigEndian.PutUint16(frame[4:], uint16(writer))
	return frame
}

func receiveFrames(to net.Conn, writers, frames int) error {
	next := make([]uint32, writers)
	buf := make([]byte, chunkSize)
	r, w, whole := 0, 0, 0 // buf[r:w] holds bytes not parsed yet
	for left := frames * frameSize; left > 0; {
		end := w + left
		if end > len(buf) {
			end = len(buf)
		}
		n, err := to.Read(buf[w:end])
		if err != nil {
			return fmt.Errorf("frames: after %d of %d frames: %w", whole, frames, err)
		}
		left -= n
		w += n
		for ; w-r >= frameSize; r += frameSize {
			f := buf[r : r+frameSize]
			length := binary.BigEndian.Uint32(f)
			writer := int(binary.BigEndian.Uint16(f[4:]))
			if length != frameSize-4 || writer >= writers {
				return fmt.Errorf("frames: frame %d of %d arrived torn", whole, frames)
			}
			seq := binary.BigEndian.Uint32(f[6:])
			if seq != next[writer] || f[10] != byte(writer+10) ||
				f[frameSize-2] != byte(writer+frameSize-2) || f[frameSize-1] != byte(seq) {
				return fmt.Errorf("frames: frame %d of %d arrived torn or out of order", whole, frames)
			}
			next[writer]++
			whole++
		}
		copy(buf, buf[r:w])
		w -= r
		r = 0
	}
	return nil
}

func framed(from, to net.Conn, writers, frames int) error {
	return both(func() error {
		each := frames / writers
		errs := make(chan error, writers)
		for k := 0; k < writers; k++ {
			go func(writer int) {
				frame := newFrame(writer)
				for seq := 0; seq < each; seq++ {
					binary.BigEndian.PutUint32(frame[6:], uint32(seq))
					frame[frameSize-1] = byte(seq)
					if _, err := from.Write(frame); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}(k)
		}
		var first error
		for k := 0; k < writers; k++ {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		return first
	}, func() error { return receiveFrames(to, writers, frames) })
}

// ---- slices ----

type workload struct {
	name    string
	unit    string
	work    float64
	prepare func(client, server net.Conn, buffer int) func() error
}

var workloads = []workload{
	{"bulk", "MiB/s", bulkMiB, func(c, s net.Conn, _ int) func() error {
		return func() error { return bulk(c, s, bulkMiB<<20) }
	}},
	{"pingpong", "round trips/s", rounds, func(c, s net.Conn, _ int) func() error {
		return func() error { return pingPong(c, s, rounds) }
	}},
	{"msg", "msgs/s", messages, func(c, s net.Conn, _ int) func() error {
		return func() error { return unbuffered(c, s, messages) }
	}},
	{"msg-buf", "msgs/s", buffered, func(c, s net.Conn, size int) func() error {
		bw := bufio.NewWriterSize(c, size)
		return func() error { return bufferedSend(bw, s, buffered) }
	}},
	{"msg-buf-fast", "msgs/s", buffered, func(c, s net.Conn, size int) func() error {
		bw := bufio.NewWriterSize(c, size)
		return func() error { return bufferedSend(bw, s, buffered) }
	}},
	{"frames-1", "frames/s", frames, func(c, s net.Conn, _ int) func() error {
		return func() error { return framed(c, s, 1, frames) }
	}},
	{"frames-8", "frames/s", frames, func(c, s net.Conn, _ int) func() error {
		return func() error { return framed(c, s, 8, frames) }
	}},
}

// slice runs units until ms have passed; it returns the rate in work per second.
func slice(unit func() error, work float64, ms int) (float64, error) {
	done := 0.0
	start := time.Now()
	for {
		if err := unit(); err != nil {
			return 0, err
		}
		done += work
		elapsed := time.Since(start)
		if elapsed >= time.Duration(ms)*time.Millisecond {
			return done / elapsed.Seconds(), nil
		}
	}
}

type request struct {
	Workload string `json:"workload"`
	Ms       int    `json:"ms"`
	Buffer   int    `json:"buffer"`
}

// serve runs one slice of the requested workload, on a fresh pair.
func serve(req request) (map[string]any, error) {
	for _, w := range workloads {
		if w.name != req.Workload {
			continue
		}
		if req.Ms < 1 || req.Buffer < msgSize {
			return nil, fmt.Errorf("bad request %+v", req)
		}
		p, err := loopback.NewPair()
		if err != nil {
			return nil, err
		}
		defer p.Close()
		rate, err := slice(w.prepare(p.Client, p.Server, req.Buffer), w.work, req.Ms)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", w.name, err)
		}
		return map[string]any{"workload": w.name, "unit": w.unit, "rate": rate}, nil
	}
	return nil, fmt.Errorf("unknown workload %q", req.Workload)
}

func reply(message map[string]any) {
	out, err := json.Marshal(message)
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func main() {
	reply(map[string]any{"peer": "go", "runtime": runtime.Version()})
	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		if len(bytes.TrimSpace(lines.Bytes())) == 0 {
			continue
		}
		var req request
		if err := json.Unmarshal(lines.Bytes(), &req); err != nil {
			fail(err)
		}
		message, err := serve(req)
		if err != nil {
			fail(err)
		}
		reply(message)
	}
	if err := lines.Err(); err != nil {
		fail(err)
	}
}
