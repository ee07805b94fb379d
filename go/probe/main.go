// Command probe runs one of the netconn probe's experiments with Go's net
// package and prints what it measured as one JSON line on stdout:
//
//	{"case": "...", "text": "...", "numbers": {...}, "error": "..."}
//
// The probe (probe/main.ts) builds it, runs each case beside netconn's run of the
// same experiment and compares the figures. Server cases ("serve-*") print a
// {"port": N} line first, then serve one connection; client cases ("*-client")
// dial -addr. Both are the Go half of the probe's cross-runtime rows.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// result is what one case measured.
type result struct {
	Case    string             `json:"case"`
	Text    string             `json:"text"`
	Numbers map[string]float64 `json:"numbers"`
	Facts   map[string]string  `json:"facts,omitempty"`
	Error   string             `json:"error,omitempty"`
}

// experiment runs one case; addr is the -addr flag (client cases only).
type experiment func(addr string) (result, error)

var cases = map[string]experiment{}

// certDir is the -certs flag: the repository's tests/certs, for the TLS cases.
var certDir string

// register adds a case under its name; each file registers its own.
func register(name string, run experiment) {
	cases[name] = run
}

func main() {
	name := flag.String("case", "", "the case to run (-list shows them)")
	addr := flag.String("addr", "", "the address a client case dials")
	flag.StringVar(&certDir, "certs", "", "the directory of the test certificates (the TLS cases)")
	list := flag.Bool("list", false, "print the case names and exit")
	flag.Parse()
	if *list {
		names := make([]string, 0, len(cases))
		for n := range cases {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Println(strings.Join(names, "\n"))
		return
	}
	run, ok := cases[*name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown case %q (-list shows them)\n", *name)
		os.Exit(2)
	}
	r, err := run(*addr)
	r.Case = *name
	if r.Numbers == nil {
		r.Numbers = map[string]float64{}
	}
	if err != nil {
		r.Error = err.Error()
	}
	say(r)
	if err != nil {
		os.Exit(1)
	}
}

// say prints one JSON line before the result (a server's port).
func say(v interface{}) {
	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	out.Encode(v)
}

// msSince is the time since start in milliseconds, to 0.1 ms.
func msSince(start time.Time) float64 {
	return float64(time.Since(start).Microseconds()/100) / 10
}

// size prints n bytes for people: exact below 64 KiB, else KiB or MiB.
func size(n int) string {
	switch {
	case n < 64*1024:
		return fmt.Sprintf("%d B", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	default:
		return fmt.Sprintf("%.2f MiB", float64(n)/1024/1024)
	}
}

// b2f turns a flag into a number for the JSON.
func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
