// Command pipe prints what Go's net.Pipe does in the cases netconn's pipe()
// mirrors, one line a case, outcomes by class (ok n, eof, timeout, closed),
// so tests/pipe_go_test.ts can set netconn's lines beside them.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

type result struct {
	n   int
	err error
}

// class names an outcome as both sides print it.
func class(r result) string {
	var ne net.Error
	switch {
	case r.err == nil:
		return fmt.Sprintf("ok %d", r.n)
	case errors.Is(r.err, io.EOF):
		return "eof"
	case errors.As(r.err, &ne) && ne.Timeout():
		return fmt.Sprintf("timeout %d", r.n)
	case errors.Is(r.err, io.ErrClosedPipe):
		return fmt.Sprintf("closed %d", r.n)
	}
	return "error " + r.err.Error()
}

// within is the outcome of ch if it comes within d, else "pending".
func within(ch chan result, d time.Duration) string {
	select {
	case r := <-ch:
		return class(r)
	case <-time.After(d):
		return "pending"
	}
}

func write(c net.Conn, p []byte) chan result {
	ch := make(chan result, 1)
	go func() { n, err := c.Write(p); ch <- result{n, err} }()
	return ch
}

func read(c net.Conn, p []byte) chan result {
	ch := make(chan result, 1)
	go func() { n, err := c.Read(p); ch <- result{n, err} }()
	return ch
}

const short = 50 * time.Millisecond
const long = 2 * time.Second

func main() {
	out := os.Stdout
	{
		a, b := net.Pipe()
		w := write(a, make([]byte, 10))
		for i := 1; i <= 3; i++ {
			r := within(read(b, make([]byte, 4)), long)
			fmt.Fprintf(out, "10-byte write, read %d of 4 bytes: read %s, write %s\n", i, r, within(w, short))
		}
		a.Close()
		b.Close()
	}
	{
		a, b := net.Pipe()
		a.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
		w := within(write(a, make([]byte, 10)), long)
		b.SetReadDeadline(time.Now().Add(short))
		fmt.Fprintf(out, "write deadline before any read: write %s, later read %s\n", w, within(read(b, make([]byte, 10)), long))
		a.Close()
		b.Close()
	}
	{
		a, b := net.Pipe()
		w := write(a, make([]byte, 10000))
		r := within(read(b, make([]byte, 1000)), long)
		b.Close()
		fmt.Fprintf(out, "reader takes 1000 of 10000 and closes: read %s, write %s\n", r, within(w, long))
		a.Close()
	}
	{
		a, b := net.Pipe()
		a.SetWriteDeadline(time.Now().Add(short))
		w := write(a, make([]byte, 10))
		r := within(read(b, make([]byte, 4)), long)
		ws := within(w, long)
		b.SetReadDeadline(time.Now().Add(short))
		fmt.Fprintf(out, "write deadline after 4 of 10 read: read %s, write %s, later read %s\n", r, ws, within(read(b, make([]byte, 10)), long))
		a.Close()
		b.Close()
	}
	{
		a, b := net.Pipe()
		w := write(a, nil)
		alone := within(w, short)
		r := read(b, make([]byte, 8))
		fmt.Fprintf(out, "empty write: alone %s; with a read of 8: write %s, read %s\n", alone, within(w, long), within(r, short))
		a.Close()
		b.Close()
	}
	{
		a, b := net.Pipe()
		r := read(b, nil)
		alone := within(r, short)
		w := write(a, []byte("hello"))
		rs := within(r, long)
		ws := within(w, short)
		fmt.Fprintf(out, "empty read: alone %s; with a write of 5: read %s, write %s, next read %s, write %s\n", alone, rs, ws, within(read(b, make([]byte, 8)), long), within(w, long))
		a.Close()
		b.Close()
	}
	{
		a, b := net.Pipe()
		r := read(b, nil)
		w := write(a, nil)
		fmt.Fprintf(out, "empty read meets empty write: read %s, write %s\n", within(r, long), within(w, long))
		a.Close()
		fmt.Fprintf(out, "empty read after the peer closed: %s\n", within(read(b, nil), long))
		b.Close()
	}
	{
		a, b := net.Pipe()
		r := read(b, make([]byte, 8))
		w := write(b, []byte("x"))
		a.Close()
		rs, ws := within(r, long), within(w, long)
		fmt.Fprintf(out, "close: peer's waiting read %s, peer's waiting write %s, own read %s, peer's next write %s\n", rs, ws, within(read(a, make([]byte, 1)), long), within(write(b, []byte("x")), long))
		b.Close()
	}
	{
		a, b := net.Pipe()
		b.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		r := within(read(b, make([]byte, 8)), long)
		w := write(a, []byte("kept"))
		alone := within(w, short)
		b.SetReadDeadline(time.Time{})
		fmt.Fprintf(out, "read timed out: read %s; a write after it %s; next read %s, write %s\n", r, alone, within(read(b, make([]byte, 8)), long), within(w, long))
		a.Close()
		b.Close()
	}
}
