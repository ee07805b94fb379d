// The TLS edges a hostile check found, each with what it does now: names
// the runtime refuses, closeWrite before the handshake, ALPN lists out of
// bounds, a write after closeWrite, corrupt or non-PEM authorities, a
// silent client's socket, and a peer that leaves without close_notify.

import assert from "node:assert/strict";
import { dial, dialTls, listen, listenTls, NetError, TimeoutError, type TlsConn } from "../mod.ts";
import { mustNotSettle, mustReject, mustSettle } from "../_kit/wait.ts";
import { readAtLeast } from "../_kit/bytes.ts";
import { certifiedKey, certText } from "../_kit/certs.ts";
import { procText } from "./_helpers.ts";

const encoder = new TextEncoder();
const ca = certText("ca.pem");
const caCerts = [ca];
const server = certifiedKey("server");

/** TCP sockets on this machine (Linux, /proc/net/tcp) to or from `port`, the listening one left out. */
async function socketsOn(port: number): Promise<number> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  return (await procText("/proc/net/tcp")).split("\n").slice(1).filter((line) => {
    const [, local, remote, state] = line.trim().split(/\s+/);
    return state !== "0A" && (local?.endsWith(`:${hex}`) || remote?.endsWith(`:${hex}`));
  }).length;
}

/** Asserts that nobody dialled `ln` within a short while. */
async function nobodyDialled(ln: { accept(): Promise<unknown>; setDeadline(t: number): void }) {
  ln.setDeadline(Date.now() + 30);
  await mustReject(ln.accept() as Promise<never>, TimeoutError, 2000, "an accept nobody dialled");
  ln.setDeadline(null as never);
}

const BAD_NAMES = ["bad host", "a\0b", "-x.example", "a..b", "1.2.3", "[::1]", "ünï.example"];

Deno.test("tls edges: a name the runtime refuses is a TypeError at once; nothing is dialled, nothing leaks", async () => {
  await using ln = listen("127.0.0.1:0");
  const before = await socketsOn(ln.addr.port);
  for (let i = 0; i < 20; i++) {
    for (const hostname of BAD_NAMES) {
      const err = await mustReject(dialTls(ln.addr, { hostname, caCerts }), TypeError);
      assert.match(err.message, /dialTls option "hostname" must be a DNS name or an IP address/);
    }
  }
  await nobodyDialled(ln);
  assert.equal(await socketsOn(ln.addr.port), before, "no socket left behind");
  // startTls: refused before the conn is consumed; it stays usable.
  const accepted = ln.accept();
  await using plain = await dial(ln.addr);
  await using peer = await accepted;
  for (const hostname of BAD_NAMES) {
    await mustReject(plain.startTls({ hostname, caCerts }), TypeError);
  }
  await plain.write(encoder.encode("still plain"));
  assert.equal(new TextDecoder().decode(await readAtLeast(peer, 11)), "still plain");
  // Names rustls takes pass the check (a timeout already passed then ends the dial).
  for (const hostname of ["localhost.", "x_y.example", "::1", "127.0.0.1"]) {
    await mustReject(dialTls(ln.addr, { hostname, timeout: -1 }), TimeoutError);
  }
});

/** A TLS conn whose handshake never ends: the server side of a silent client, on either path. */
async function silentHandshake(path: "deno" | "node") {
  const ln = listenTls("127.0.0.1:0", { ...server, ...(path === "node" ? { sni: {} } : {}) });
  const silent = await dial(ln.addr);
  const conn = await ln.accept();
  return {
    conn,
    silent,
    async [Symbol.asyncDispose]() {
      await conn[Symbol.asyncDispose]();
      await silent[Symbol.asyncDispose]();
      await ln[Symbol.asyncDispose]();
    },
  };
}

Deno.test("tls edges: closeWrite before the handshake ends keeps to the write deadline and frees the write turn", async (t) => {
  for (const path of ["deno", "node"] as const) {
    await t.step(path, async () => {
      await using p = await silentHandshake(path);
      p.conn.setWriteDeadline(Date.now() + 150);
      const closing = p.conn.closeWrite();
      await mustNotSettle(closing, 20, "closeWrite before its deadline");
      const err = await mustReject(closing, TimeoutError, 2000, "closeWrite past its deadline");
      assert.equal(err.op, "close");
      // The turn is free: a later write keeps to its own deadline, not stuck behind.
      p.conn.setWriteDeadline(Date.now() + 50);
      await mustReject(p.conn.write(encoder.encode("x")), TimeoutError, 2000, "a later write");
    });
  }
});

Deno.test("tls edges: closing a silent client's conn on the node:tls path closes its socket, FFI or not", async () => {
  const ln = listenTls("127.0.0.1:0", { ...server, sni: {} });
  const silents = [];
  const conns: TlsConn[] = [];
  for (let i = 0; i < 20; i++) {
    silents.push(await dial(ln.addr));
    conns.push(await ln.accept());
  }
  for (const c of conns) await c[Symbol.asyncDispose]();
  for (const s of silents) {
    assert.equal(
      await mustSettle(s.read(new Uint8Array(64)), 2000, "the silent client's read"),
      null,
    );
    s.close();
  }
  await ln[Symbol.asyncDispose]();
});

Deno.test("tls edges: ALPN lists out of bounds are a RangeError before anything goes on the wire", async () => {
  await using ln = listen("127.0.0.1:0");
  const lists: [string, string[]][] = [
    ["an empty name", ["h2", ""]],
    ["a name over 255 bytes", ["x".repeat(256)]],
    ["a name of 128 two-byte characters", ["é".repeat(128)]],
    ["a list over 65535 bytes", Array.from({ length: 70000 }, (_, i) => `p${i % 10}`)],
  ];
  for (const [what, alpnProtocols] of lists) {
    const err = await mustReject(dialTls(ln.addr, { caCerts, alpnProtocols }), RangeError);
    assert.match(err.message, /alpnProtocols/, what);
    assert.throws(() => listenTls("127.0.0.1:0", { ...server, alpnProtocols }), RangeError, what);
  }
  await mustReject(dialTls(ln.addr, { alpnProtocols: [5] as never }), TypeError);
  await nobodyDialled(ln);
  // 255 bytes is the limit, not over it.
  await mustReject(
    dialTls(ln.addr, { alpnProtocols: ["x".repeat(255)], timeout: -1 }),
    TimeoutError,
  );
});

Deno.test("tls edges: a write after closeWrite is broken-pipe over TLS, as over TCP", async (t) => {
  for (const path of ["deno", "node"] as const) {
    await t.step(path, async () => {
      await using ln = listenTls("127.0.0.1:0", {
        ...server,
        ...(path === "node" ? { sni: {} } : {}),
      });
      const accepted = ln.accept();
      await using client = await dialTls(ln.addr, { hostname: "localhost", caCerts });
      await using conn = await accepted;
      for (const [writer, reader] of [[client, conn], [conn, client]] as const) {
        await writer.closeWrite();
        assert.equal(await reader.read(new Uint8Array(4)), null);
        const err = await mustReject(writer.write(encoder.encode("late")), NetError);
        assert.equal(err.kind, "broken-pipe");
        assert.equal(err.op, "write");
      }
    });
  }
});

Deno.test("tls edges: a corrupt or non-PEM authority or certificate is a TypeError at once", async () => {
  await using ln = listen("127.0.0.1:0");
  const lines = ca.split("\n");
  lines[3] = lines[3]!.replace(/[A-Za-z]/, (c) => c === "A" ? "B" : "A");
  const corrupt = lines.join("\n");
  const cut = ca.slice(0, 200) + ca.slice(-30);
  const cases: [string, string][] = [
    ["a corrupt certificate", corrupt],
    ["a cut certificate", cut],
    ["text that is not PEM", "hello, I am a CA"],
    ["a private key", server.key],
  ];
  for (const [what, pem] of cases) {
    const err = await mustReject(dialTls(ln.addr, { caCerts: [ca, pem] }), TypeError);
    assert.match(err.message, /caCerts\[1\]/, what);
    assert.throws(() => listenTls("127.0.0.1:0", { cert: pem, key: server.key }), TypeError, what);
    assert.throws(
      () =>
        listenTls("127.0.0.1:0", { ...server, clientAuth: "require-and-verify", clientCas: [pem] }),
      TypeError,
      what,
    );
  }
  assert.throws(() => listenTls("127.0.0.1:0", { cert: server.cert, key: "not a key" }), TypeError);
  await nobodyDialled(ln);
});

Deno.test("tls edges: a peer that leaves without close_notify: read fails with kind tls, not EOF", async () => {
  // A TCP proxy between client and server; cutting it closes the client's
  // side with a FIN and no close_notify, at a record boundary.
  await using tlsLn = listenTls("127.0.0.1:0", server);
  await using proxyLn = listen("127.0.0.1:0");
  const dialled = dialTls(proxyLn.addr, { hostname: "localhost", caCerts });
  await using inner = await proxyLn.accept();
  await using outer = await dial(tlsLn.addr);
  const pump = async (from: typeof inner, to: typeof inner) => {
    const buf = new Uint8Array(65536);
    for (let n = await from.read(buf); n !== null; n = await from.read(buf)) {
      await to.write(buf.subarray(0, n));
    }
  };
  const pumps = Promise.allSettled([pump(inner, outer), pump(outer, inner)]);
  await using conn = await tlsLn.accept();
  await using client = await mustSettle(dialled, 5000, "the dial through the proxy");
  await conn.write(encoder.encode("one"));
  assert.equal(await client.read(new Uint8Array(8)), 3);
  inner.close(); // the cut: FIN, no close_notify
  outer.close();
  const err = await mustReject(client.read(new Uint8Array(8)), NetError);
  assert.equal(err.kind, "tls");
  assert.match(err.message, /unexpected EOF/);
  assert.ok(err.cause instanceof Deno.errors.UnexpectedEof);
  await pumps;
});

Deno.test("tls edges: a key that is not the certificate's is a TypeError at once, on every path", async () => {
  const mismatched = { cert: server.cert, key: certifiedKey("client").key };
  const message = /cert" and ".*key" do not match/;
  assert.throws(() => listenTls("127.0.0.1:0", mismatched), message);
  assert.throws(() => listenTls("127.0.0.1:0", { ...mismatched, sni: {} }), message);
  assert.throws(
    () => listenTls("127.0.0.1:0", { ...server, sni: { "x.example": mismatched } }),
    message,
  );
  await using ln = listen("127.0.0.1:0");
  const accepted = ln.accept();
  await using plain = await dial(ln.addr);
  await using peer = await accepted;
  await mustReject(plain.startTls({ isServer: true, ...mismatched }), TypeError);
  await mustReject(plain.startTls({ hostname: "localhost", caCerts, ...mismatched }), TypeError);
  await mustReject(dialTls(ln.addr, { caCerts, ...mismatched }), TypeError);
  // Nothing was consumed: the conn is still plain and usable.
  await plain.write(encoder.encode("plain"));
  assert.equal(new TextDecoder().decode(await readAtLeast(peer, 5)), "plain");
});
