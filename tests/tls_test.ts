// TLS through netconn against peers nobody here wrote: openssl s_server for
// dialTls (ALPN, a client certificate, STARTTLS), openssl s_client for
// listenTls; the typed errors of failed handshakes; deadlines bounding a
// handshake; startTls refusing while the conn is busy, nothing lost.

import assert from "node:assert/strict";
import {
  ClosedError,
  type Conn,
  dial,
  dialTls,
  listen,
  listenTls,
  NetError,
  TimeoutError,
} from "../mod.ts";
import { needs } from "./_helpers.ts";
import { mustNotSettle, mustReject, mustSettle } from "../_kit/wait.ts";
import { pair } from "../_kit/loopback.ts";
import { readAtLeast } from "../_kit/bytes.ts";
import { startSClient, startSServer, startStartTlsPeer } from "./_tls_peers.ts";
import { certifiedKey, certText } from "../_kit/certs.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const caCerts = [certText("ca.pem")];
const server = certifiedKey("server");

async function readString(conn: Conn, n: number): Promise<string> {
  return decoder.decode(await readAtLeast(conn, n));
}

Deno.test(
  "tls: dialTls talks to openssl s_server both ways, verifying localhost on 127.0.0.1",
  needs("openssl"),
  async () => {
    await using s = await startSServer({ alpn: ["x-other", "x-netconn"] });
    await using conn = await dialTls(`127.0.0.1:${s.port}`, {
      hostname: "localhost",
      caCerts,
      alpnProtocols: ["x-netconn"],
      timeout: 5000,
    });
    assert.equal(conn.network, "tls");
    assert.deepEqual(await conn.handshake(), { alpnProtocol: "x-netconn" });
    assert.equal(await conn.write(encoder.encode("ping from netconn\n")), 18);
    await s.waitFor("ping from netconn\n");
    await s.send("pong from s_server\n");
    assert.equal(await readString(conn, 19), "pong from s_server\n");
    // Go's defaults reached the TCP conn under TLS.
    assert.equal(conn.socketOptions().noDelay, true);
    assert.equal(conn.socketOptions().keepAlive, true);
  },
);

Deno.test(
  "tls: dialTls presents a client certificate to an s_server that asks for one",
  needs("openssl"),
  async () => {
    await using s = await startSServer({ requireClientCert: true });
    const { cert, key } = certifiedKey("client");
    await using conn = await dialTls(`localhost:${s.port}`, { caCerts, cert, key });
    await conn.write(encoder.encode("with a cert\n"));
    await s.waitFor("with a cert\n");
    await s.waitFor(/subject=.*netconn test client/);
  },
);

Deno.test("tls: a client certificate with another name to verify goes through node:tls and is verified both ways", async () => {
  const { cert, key } = certifiedKey("client");
  await using ln = listenTls("127.0.0.1:0", {
    ...server,
    clientAuth: "require-and-verify",
    clientCas: caCerts[0]!,
  });
  const accepted = ln.accept();
  await using conn = await dialTls(ln.addr, { hostname: "localhost", caCerts, cert, key });
  await using peer = await accepted;
  await peer.handshake();
  assert.equal(peer.tlsState().verified, true);
  const state = conn.tlsState();
  assert.equal(state.verified, true);
  assert.equal(state.serverName, "localhost");
  assert.equal(state.version, "TLSv1.3", "node:tls tells the version");
  assert.equal(state.peerCertificates[0]!.trim(), server.cert.trim());
  // The server is verified on that path as on Deno's: each bad server fails.
  for (const bad of ["unknown", "wronghost", "expired"]) {
    await using badLn = listenTls("127.0.0.1:0", certifiedKey(bad));
    const accepting = badLn.accept();
    const err = await mustReject(
      dialTls(badLn.addr, { hostname: "localhost", caCerts, cert, key, timeout: 5000 }),
      NetError,
    );
    assert.equal(err.kind, "tls", `${bad}: ${err.message}`);
    (await accepting).close();
  }
  await mustReject(dialTls(ln.addr, { cert } as never), TypeError);
  await mustReject(dialTls(ln.addr, { caCerts: "ca" as never }), TypeError);
});

Deno.test(
  "tls: listenTls serves openssl s_client both ways, with ALPN",
  needs("openssl"),
  async () => {
    await using ln = listenTls("127.0.0.1:0", { ...server, alpnProtocols: ["x-netconn"] });
    await using client = await startSClient({ port: ln.addr.port, alpn: ["x-netconn"] });
    await using conn = await ln.accept();
    assert.deepEqual(await conn.handshake(), { alpnProtocol: "x-netconn" });
    await client.waitFor("Verify return code: 0 (ok)");
    await conn.write(encoder.encode("hello s_client\n"));
    await client.waitFor("hello s_client\n");
    await client.send("hello netconn\n");
    assert.equal(await readString(conn, 14), "hello netconn\n");
  },
);

Deno.test("tls: a client that never handshakes holds up neither accept nor anyone else", async () => {
  await using ln = listenTls("127.0.0.1:0", server);
  await using _silent = await dial(ln.addr); // plain TCP, never says a word
  await using first = await mustSettle(ln.accept(), 2000, "accept of the silent client");
  // The server side of a handshake runs once accept has taken the conn, as
  // in Go, where it runs on the first read: accept first, then dial.
  const accepting = ln.accept();
  await using client = await dialTls(ln.addr, { hostname: "localhost", caCerts, timeout: 5000 });
  await using second = await mustSettle(accepting, 2000, "accept after a silent client");
  await client.write(encoder.encode("ok"));
  assert.equal(await readString(second, 2), "ok");
  // The silent conn's handshake is bounded by its deadlines.
  first.setReadDeadline(Date.now() + 50);
  await mustNotSettle(first.handshake(), 20, "a handshake with a silent peer");
  const err = await mustReject(first.handshake(), TimeoutError, 2000, "the handshake's deadline");
  assert.equal(err.op, "handshake");
});

Deno.test("tls: failed handshakes are NetErrors of kind tls, with the runtime's error as cause", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["unknown authority", "unknown", /UnknownIssuer/],
    ["wrong host name", "wronghost", /not valid for name/],
    ["expired certificate", "expired", /expired/],
  ];
  for (const [what, cert, message] of cases) {
    await t.step(what, async () => {
      await using ln = listenTls("127.0.0.1:0", certifiedKey(cert));
      const accepted = ln.accept();
      const err = await mustReject(
        dialTls(ln.addr, { hostname: "localhost", caCerts, timeout: 5000 }),
        NetError,
      );
      await using _peer = await accepted;
      assert.equal(err.kind, "tls");
      assert.equal(err.op, "handshake");
      assert.ok(err.cause instanceof Deno.errors.InvalidData, String(err.cause));
      assert.match(err.message, message);
    });
  }
  await t.step("a peer that does not speak TLS", async () => {
    await using ln = listen("127.0.0.1:0");
    const served = (async () => {
      await using c = await ln.accept();
      await c.write(encoder.encode("220 smtp.example ESMTP ready\r\n"));
      await c.read(new Uint8Array(1024)).catch(() => null);
    })();
    const err = await mustReject(dialTls(ln.addr, { caCerts, timeout: 5000 }), NetError);
    assert.equal(err.kind, "tls");
    await served;
  });
  await t.step("a peer that never answers: the dial's timeout covers the handshake", async () => {
    await using ln = listen("127.0.0.1:0");
    const accepted = ln.accept();
    const started = performance.now();
    const err = await mustReject(dialTls(ln.addr, { caCerts, timeout: 150 }), TimeoutError);
    assert.ok(performance.now() - started >= 140, "not before the timeout");
    assert.equal(err.op, "dial");
    await using _peer = await accepted;
  });
});

Deno.test(
  "tls: startTls upgrades a conn mid-conversation (STARTTLS against s_server)",
  needs("openssl"),
  async () => {
    await using peer = await startStartTlsPeer(async (plain) => {
      await plain.write(encoder.encode("220 ready\r\n"));
      const buf = new Uint8Array(10);
      let got = "";
      while (!got.endsWith("STARTTLS\r\n")) {
        const n = await plain.read(buf.subarray(0, 10 - got.length));
        if (n === null) return;
        got += decoder.decode(buf.subarray(0, n));
      }
      await plain.write(encoder.encode("220 go ahead\r\n"));
    });
    const plain = await dial(`127.0.0.1:${peer.port}`);
    assert.equal(await readString(plain, 11), "220 ready\r\n");
    await plain.write(encoder.encode("STARTTLS\r\n"));
    assert.equal(await readString(plain, 14), "220 go ahead\r\n");
    await using tls = await plain.startTls({ hostname: "localhost", caCerts });
    assert.equal(tls.network, "tls");
    await tls.write(encoder.encode("EHLO over tls\r\n"));
    await peer.server.waitFor("EHLO over tls");
    // The plaintext conn is consumed: every use is ClosedError.
    await mustReject(plain.read(new Uint8Array(1)), ClosedError);
    await mustReject(plain.write(new Uint8Array(1)), ClosedError);
    await mustReject(plain.startTls(), ClosedError);
    plain.close(); // a no-op: the socket is the TLS conn's now
    await tls.write(encoder.encode("still here\r\n"));
    await peer.server.waitFor("still here");
  },
);

Deno.test("tls: startTls refuses while bytes are unread or an operation is pending; nothing is lost", async () => {
  await using p = await pair();
  // Bytes read from the socket but not yet returned: a read waiting when
  // they came read them all into the conn's buffer, and returned two.
  const first = p.server.read(new Uint8Array(2));
  await mustNotSettle(first, 20, "a read with no data");
  await p.client.write(encoder.encode("abcdef"));
  assert.equal(await first, 2);
  let err = await mustReject(p.server.startTls({ caCerts }), NetError);
  assert.equal(err.kind, "busy");
  assert.equal(await readString(p.server, 4), "cdef", "the unread bytes are still there");
  // A read pending, then one a deadline left running.
  const pending = p.server.read(new Uint8Array(4));
  err = await mustReject(p.server.startTls({ caCerts }), NetError);
  assert.equal(err.kind, "busy");
  p.server.setReadDeadline(Date.now() - 1);
  await mustReject(pending, TimeoutError);
  p.server.setReadDeadline(null);
  err = await mustReject(p.server.startTls({ caCerts }), NetError);
  assert.equal(err.kind, "busy", "a read a deadline left running counts");
  await p.client.write(encoder.encode("wxyz"));
  assert.equal(await readString(p.server, 4), "wxyz", "the conn stays usable");
  // Bad options change nothing.
  await mustReject(p.server.startTls({ hostname: 5 as never }), TypeError);
  await p.client.write(encoder.encode("ok"));
  assert.equal(await readString(p.server, 2), "ok");
  // A write pending: the peer does not read.
  const blocked = p.client.write(new Uint8Array(16 << 20)).catch((e) => e);
  await mustNotSettle(blocked, 50, "a 16 MiB write to a peer that does not read");
  err = await mustReject(p.client.startTls({ caCerts }), NetError);
  assert.equal(err.kind, "busy", "a pending write counts");
  p.client.close();
  assert.ok((await blocked) instanceof ClosedError);
});

Deno.test("tls: a failed startTls handshake consumes the conn; a TLS conn cannot startTls", async () => {
  await using ln = listen("127.0.0.1:0");
  const served = (async () => {
    await using c = await ln.accept();
    await c.write(encoder.encode("not tls at all\r\n"));
    await c.read(new Uint8Array(1024)).catch(() => null);
  })();
  const plain = await dial(ln.addr);
  const err = await mustReject(plain.startTls({ caCerts }), NetError);
  assert.equal(err.kind, "tls");
  await mustReject(plain.read(new Uint8Array(1)), ClosedError);
  plain.close();
  await served;

  await using tlsLn = listenTls("127.0.0.1:0", server);
  const accepted = tlsLn.accept();
  await using tls = await dialTls(tlsLn.addr, { hostname: "localhost", caCerts });
  await using _peer = await accepted;
  assert.equal("startTls" in tls, false); // only a TCP conn upgrades
});

Deno.test("tls: startTls with a client certificate (node:tls) against a server that requires one", async () => {
  await using p = await pair();
  const [client, upgraded] = await Promise.all([
    p.client.startTls({ hostname: "localhost", caCerts, ...certifiedKey("client") }),
    p.server.startTls({
      isServer: true,
      ...server,
      clientAuth: "require-and-verify",
      clientCas: caCerts,
    }),
  ]);
  await using _c = client;
  await using _s = upgraded;
  assert.equal(upgraded.tlsState().verified, true);
  assert.equal(client.tlsState().verified, true);
  await client.write(encoder.encode("mutual"));
  assert.equal(await readString(upgraded, 6), "mutual");
});

Deno.test("tls: a signal that fired already ends handshake and startTls at once", async () => {
  await using ln = listen("127.0.0.1:0"); // plain TCP: never answers a ClientHello
  const accepted = ln.accept();
  const plain = await dial(ln.addr);
  await using _peer = await accepted;
  const err = await mustReject(plain.startTls({ caCerts, signal: AbortSignal.abort() }), NetError);
  assert.equal(err.kind, "aborted");
  await mustReject(plain.read(new Uint8Array(1)), ClosedError, 2000, "the consumed conn");

  await using tlsLn = listenTls("127.0.0.1:0", server);
  await using _silent = await dial(tlsLn.addr);
  await using conn = await tlsLn.accept();
  const hs = await mustReject(conn.handshake({ signal: AbortSignal.abort() }), NetError);
  assert.equal(hs.kind, "aborted");
});

Deno.test("tls: closing a conn whose handshake never finished frees its socket: the peer reads EOF", async () => {
  await using ln = listenTls("127.0.0.1:0", server);
  await using silent = await dial(ln.addr); // connects, never handshakes
  const conn = await ln.accept();
  conn.setDeadline(Date.now() + 50);
  await mustReject(conn.handshake(), TimeoutError);
  conn.close();
  const buf = new Uint8Array(64);
  let n: number | null = 0;
  // Whatever the server had sent, then EOF: the socket was shut, not left open.
  while (n !== null) n = await mustSettle(silent.read(buf), 2000, "the silent client's read");
});
