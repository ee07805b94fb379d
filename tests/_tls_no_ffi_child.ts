// Run by tls_no_ffi_test.ts without --allow-ffi: silent clients of a TLS
// listener on each path, their server conns closed before any handshake;
// prints, as JSON, how many silent clients then read EOF within a bound.

import { dial, listenTls, type TcpConn } from "../mod.ts";

const dir = new URL("./certs/", import.meta.url);
const cert = Deno.readTextFileSync(new URL("server.pem", dir));
const key = Deno.readTextFileSync(new URL("server.key", dir));
const COUNT = 50;

/** Silent clients of one listener; closes their server conns; counts the clients that read EOF. */
async function closedSilents(options: { sni?: Record<string, never> }): Promise<number> {
  await using ln = listenTls("127.0.0.1:0", { cert, key, ...options });
  const silents: TcpConn[] = [];
  for (let i = 0; i < COUNT; i++) {
    silents.push(await dial(ln.addr));
    (await ln.accept()).close(); // before any handshake: the client said nothing
  }
  let eof = 0;
  await Promise.all(silents.map(async (s) => {
    s.setReadDeadline(Date.now() + 1000);
    const buf = new Uint8Array(64);
    try {
      while ((await s.read(buf)) !== null) { /* whatever the server sent */ }
      eof++;
    } catch {
      // Still open when the deadline passed.
    }
    s.close();
  }));
  return eof;
}

const ffi = (await Deno.permissions.query({ name: "ffi" })).state;
console.log(JSON.stringify({
  ffi,
  count: COUNT,
  node: await closedSilents({ sni: {} }),
  deno: await closedSilents({}),
}));
