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

import { TcpConn } from "../mod.ts";
import { bulk, connEndpoint, type Endpoint, type Pair, pingPong } from "./_loopback.ts";

const BULK_BYTES = 8 * 1024 * 1024;
const ROUNDS = 500;
const MSG = 32;

const certs = new URL("../tests/certs/", import.meta.url);
const cert = Deno.readTextFileSync(new URL("server.pem", certs));
const key = Deno.readTextFileSync(new URL("server.key", certs));
const ca = Deno.readTextFileSync(new URL("ca.pem", certs));

/** Raw Deno conn as an endpoint: writes loop until every byte is out. */
function rawEndpoint(conn: Deno.Conn): Endpoint {
  return {
    read: (p) => conn.read(p),
    async writeAll(p) {
      for (let off = 0; off < p.length;) off += await conn.write(off === 0 ? p : p.subarray(off));
    },
  };
}

async function tlsPair(): Promise<Pair<Deno.TlsConn>> {
  const ln = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  try {
    const [client, server] = await Promise.all([
      Deno.connectTls({ hostname: "localhost", port: ln.addr.port, caCerts: [ca] }),
      ln.accept(),
    ]);
    await Promise.all([client.handshake(), server.handshake()]);
    return { client, server };
  } finally {
    ln.close();
  }
}

async function unixPair(dir: string): Promise<Pair<Deno.UnixConn>> {
  const path = `${dir}/bench.sock`;
  const ln = Deno.listen({ transport: "unix", path });
  try {
    const [client, server] = await Promise.all([
      Deno.connect({ transport: "unix", path }),
      ln.accept(),
    ]);
    return { client, server };
  } finally {
    ln.close();
  }
}

const dir = Deno.makeTempDirSync({ prefix: "netconn-bench-" });
const transports: [string, Pair<Deno.Conn>][] = [
  ["tls", await tlsPair()],
  ["unix", await unixPair(dir)],
];

for (const [name, raw] of transports) {
  const wrapped = {
    client: new TcpConn(raw.client as Deno.TcpConn),
    server: new TcpConn(raw.server as Deno.TcpConn),
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
  for (const [, raw] of transports) {
    raw.client.close();
    raw.server.close();
  }
  Deno.removeSync(dir, { recursive: true });
});
