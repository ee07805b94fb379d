// A conn through a FaultProxy: a server listener, the proxy in front of it, a
// client dialed to the proxy and the server's side of that conn. Disposing
// closes all of it and waits until every socket is free.

import { type Conn, dial, listen, type Listener } from "../../mod.ts";
import { type Fault, FaultProxy } from "../../testing/mod.ts";
import { ramp, readFull } from "../../_kit/bytes.ts";

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

/** Writes `n` bytes on `conn`, reads them on `peer`, and returns the milliseconds it took. */
export async function roundTrip(conn: Conn, peer: Conn, n = 4): Promise<number> {
  const start = performance.now();
  await conn.write(ramp(n));
  await readFull(peer, new Uint8Array(n));
  return performance.now() - start;
}
