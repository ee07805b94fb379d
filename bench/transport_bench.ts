// netconn over TLS and over a unix socket, against raw Deno.TlsConn and
// Deno.UnixConn in the same groups:
//
//   deno bench --allow-net --allow-read --allow-write --allow-ffi bench/transport_bench.ts
//
// - bulk: 8 MiB per iteration in 64 KiB writes, read into a 64 KiB buffer;
// - ping-pong: 500 round trips of a 32-byte message per iteration;
// raw Deno (the baseline; writes loop until every byte is out, as raw callers
// must) beside netconn wrapping the very same two sockets, one variant at a
// time. Every iteration checks what it received.

import { type Conn, TlsConn, UnixConn } from "../mod.ts";
import { bulk, connEndpoint, pingPong, rawEndpoint } from "./_loopback.ts";
import { type RawPair, rawTlsPair, rawUnixPair } from "../_kit/loopback.ts";

const BULK_BYTES = 8 * 1024 * 1024;
const ROUNDS = 500;
const MSG = 32;

/** A raw conn as the netconn class of its network: TLS or unix. */
function wrap(raw: Deno.Conn): Conn {
  return "handshake" in raw ? new TlsConn(raw as Deno.TlsConn) : new UnixConn(raw as Deno.UnixConn);
}

const transports: [string, RawPair<Deno.Conn, unknown>][] = [
  ["tls", await rawTlsPair()],
  ["unix", await rawUnixPair()],
];

for (const [name, raw] of transports) {
  const wrapped = {
    client: wrap(raw.client),
    server: wrap(raw.server),
  };
  const rawEnds = { client: rawEndpoint(raw.client), server: rawEndpoint(raw.server) };
  const connEnds = { client: connEndpoint(wrapped.client), server: connEndpoint(wrapped.server) };
  for (
    const [variant, ends, baseline] of [
      [`raw Deno (${name})`, rawEnds, true],
      [`netconn (${name})`, connEnds, false],
    ] as const
  ) {
    Deno.bench({
      name: variant,
      group: `${name} bulk, 64 KiB writes`,
      baseline,
      async fn() {
        await bulk(ends.client, ends.server, BULK_BYTES);
      },
    });
    Deno.bench({
      name: variant,
      group: `${name} ping-pong, 32 B`,
      baseline,
      async fn() {
        await pingPong(ends.client, ends.server, { rounds: ROUNDS, size: MSG });
      },
    });
  }
}

globalThis.addEventListener("unload", () => {
  for (const [, raw] of transports) raw[Symbol.dispose]();
});
