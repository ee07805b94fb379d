// A conn through a FaultProxy: a server listener, the proxy in front of it, a
// client dialed to the proxy and the server's side of that conn. Disposing
// closes all of it and waits until every socket is free.

import { type Conn, dial, listen, type Listener } from "../../mod.ts";
import { type Fault, FaultProxy } from "../../testing/mod.ts";

/** A server, a proxy in front of it, and one conn through the proxy. */
export interface Through extends AsyncDisposable {
  server: Listener;
  proxy: FaultProxy;
  /** The dialed side, the proxy's client. */
  client: Conn;
  /** The server's side of the conn. */
  peer: Conn;
}

/** Listens, puts a proxy with `faults` in front, dials through it and accepts. */
export async function through(faults: Fault[] = []): Promise<Through> {
  const server = listen("127.0.0.1:0");
  const proxy = new FaultProxy(server.addr, { faults });
  const client = await dial(proxy.addr);
  const peer = await server.accept();
  return {
    server,
    proxy,
    client,
    peer,
    async [Symbol.asyncDispose]() {
      await client[Symbol.asyncDispose]();
      await peer[Symbol.asyncDispose]();
      await proxy[Symbol.asyncDispose]();
      await server[Symbol.asyncDispose]();
    },
  };
}

/** Bytes 0, 1, …, 255, 0, … of length n. */
export function bytes(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => i & 0xff);
}

/** Writes `n` bytes on `conn`, reads them on `peer`, and returns the milliseconds it took. */
export async function roundTrip(conn: Conn, peer: Conn, n = 4): Promise<number> {
  const start = performance.now();
  await conn.write(bytes(n));
  const buf = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const m = await peer.read(buf.subarray(got));
    if (m === null) throw new Error(`EOF after ${got} of ${n} bytes`);
    got += m;
  }
  return performance.now() - start;
}

/** The mean of some numbers. */
export function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
