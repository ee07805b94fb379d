// The Go programs measured beside netconn, standard library only: ./probe
// (the probe's cases, built and run by probe/_go.ts) and ./compare (Go's
// peer in bench/compare/run.ts), with the loopback pairs both open in
// ./internal/loopback; ./pipe prints net.Pipe's cases for tests/pipe_go_test.ts.
// _kit/go.ts builds them.
module netconn.example/go

go 1.19
