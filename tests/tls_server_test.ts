// TLS for servers: client certificates on listenTls (each clientAuth mode,
// against netconn's, Deno's and openssl's clients), tlsState() on both
// sides, the server side of STARTTLS, SNI and certificate rotation; the
// contract suite over conns of the node:tls path.

import assert from "node:assert/strict";
import {
  type ClientAuth,
  ClosedError,
  dial,
  dialTls,
  listen,
  listenTls,
  type ListenTlsOptions,
  NetError,
  NotSupportedError,
  type TlsConn,
} from "../mod.ts";
import { needs } from "./_helpers.ts";
import { mustNotSettle, mustReject, mustSettle } from "../_kit/wait.ts";
import { readAtLeast } from "../_kit/bytes.ts";
import { certifiedKey, certPath, certText } from "../_kit/certs.ts";
import { startSClient } from "./_tls_peers.ts";
import { type ConnUnderTest, type MakePipe, testConn } from "../testing/mod.ts";
import { BufReader } from "../bufio/mod.ts";
import { serveSmtp } from "../examples/smtp_starttls.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ca = certText("ca.pem");
const caCerts = [ca];
const server = certifiedKey("server");
const client = certifiedKey("client");
const stranger = certifiedKey("stranger"); // a client certificate from a CA nobody trusts

async function readString(conn: TlsConn, n: number): Promise<string> {
  return decoder.decode(await readAtLeast(conn, n));
}

/** listenTls with `options`, one netconn dialTls with `dial`, both ends; disposing closes all. */
async function mtls(
  options: Partial<ListenTlsOptions>,
  dialOptions: { cert?: string; key?: string } = {},
) {
  const ln = listenTls("127.0.0.1:0", { ...server, ...options });
  const accepted = ln.accept();
  const c = await dialTls(`localhost:${ln.addr.port}`, { caCerts, timeout: 5000, ...dialOptions })
    .catch(async (e) => {
      (await accepted).close();
      await ln[Symbol.asyncDispose]();
      throw e;
    });
  const s = await accepted;
  return {
    ln,
    client: c,
    server: s,
    async [Symbol.asyncDispose]() {
      await c[Symbol.asyncDispose]();
      await s[Symbol.asyncDispose]();
      await ln[Symbol.asyncDispose]();
    },
  };
}

// What each mode does with no certificate, a trusted one, and a stranger's:
// "ok" (verified or not) or the failure's message part.
const MODES: [ClientAuth, string, string, string][] = [
  //  mode                  none                 trusted        stranger
  ["none", "ok", "ok-unasked", "ok-unasked"],
  ["request", "ok", "ok", "ok"],
  ["require", "none was sent", "ok", "ok"],
  ["verify-if-given", "ok", "ok-verified", "unknown authority"],
  ["require-and-verify", "none was sent", "ok-verified", "unknown authority"],
];

Deno.test("tls server: each clientAuth mode against netconn's client, with no, a trusted and a stranger's certificate", async (t) => {
  for (const [mode, ...outcomes] of MODES) {
    for (const [i, who] of ["none", "trusted", "stranger"].entries()) {
      const want = outcomes[i]!;
      await t.step(`${mode}, ${who}: ${want}`, async () => {
        const verifies = mode === "verify-if-given" || mode === "require-and-verify";
        const options: Partial<ListenTlsOptions> = mode === "none"
          ? { sni: {} } // the node:tls path, asking for nothing
          : { clientAuth: mode, ...(verifies ? { clientCas: ca } : {}) };
        const cert = who === "trusted" ? client : who === "stranger" ? stranger : {};
        await using p = await mtls(options, cert);
        if (!want.startsWith("ok")) {
          const err = await mustReject(p.server.handshake(), NetError);
          assert.equal(err.kind, "tls");
          assert.equal(err.op, "handshake");
          assert.match(err.message, new RegExp(want));
          assert.equal(p.server.tlsState().handshakeComplete, false);
          // Never handed over: reads and writes fail too, and nothing reaches the client.
          await mustReject(p.server.read(new Uint8Array(1)), NetError);
          await mustReject(p.server.write(encoder.encode("secret")), NetError);
          const got = await p.client.read(new Uint8Array(8)).catch((e) => e);
          assert.ok(got === null || got instanceof NetError, `client read: ${got}`);
          return;
        }
        await p.server.handshake();
        const state = p.server.tlsState();
        assert.equal(state.handshakeComplete, true);
        assert.equal(state.version, "TLSv1.3");
        assert.match(state.cipherSuite ?? "", /^TLS_/);
        assert.equal(state.serverName, "localhost");
        assert.equal(state.verified, want === "ok-verified");
        const sent = who !== "none" && want !== "ok-unasked";
        assert.equal(state.peerCertificates.length, sent ? 1 : 0);
        if (sent) {
          assert.equal(
            state.peerCertificates[0]!.trim(),
            (who === "trusted" ? client : stranger).cert.trim(),
          );
        }
        await p.client.write(encoder.encode("ping"));
        assert.equal(await readString(p.server, 4), "ping");
        await p.server.write(encoder.encode("pong"));
        assert.equal(await readString(p.client, 4), "pong");
      });
    }
  }
});

Deno.test(
  "tls server: openssl s_client with and without -cert against each clientAuth mode",
  needs("openssl"),
  async (t) => {
    for (const [mode, none, trusted, strange] of MODES) {
      const cases: [string, string | undefined, string][] = [
        ["no -cert", undefined, none],
        ["-cert client", "client", trusted],
        ["-cert stranger", "stranger", strange],
      ];
      for (const [what, cert, want] of cases) {
        await t.step(`${mode}, ${what}: ${want}`, async () => {
          const verifies = mode === "verify-if-given" || mode === "require-and-verify";
          await using ln = listenTls("127.0.0.1:0", {
            ...server,
            ...(mode === "none" ? { sni: {} } : { clientAuth: mode }),
            ...(verifies ? { clientCas: ca } : {}),
          });
          await using s = await startSClient({
            port: ln.addr.port,
            ...(cert === undefined ? {} : { cert }),
            args: ["-ign_eof"],
          });
          await using conn = await ln.accept();
          if (!want.startsWith("ok")) {
            const err = await mustReject(conn.handshake(), NetError);
            assert.equal(err.kind, "tls");
            assert.match(err.message, new RegExp(want));
            // s_client finds the conn closed, and never got a byte from the server.
            await s.waitFor(/closed|errno|error/i, 5000).catch(() => s.status);
            await s.close();
            assert.ok(!s.stdout.includes("secret"));
            return;
          }
          await conn.handshake();
          await s.waitFor("Verify return code: 0 (ok)");
          const state = conn.tlsState();
          assert.equal(state.verified, want === "ok-verified");
          const sent = cert !== undefined && want !== "ok-unasked";
          // s_client sends its chain as far as it can build it: the leaf first.
          assert.equal(state.peerCertificates.length > 0, sent);
          if (sent) {
            const leaf = certifiedKey(cert!).cert.trim();
            assert.equal(state.peerCertificates[0]!.trim(), leaf);
          }
          await conn.write(encoder.encode("hello s_client\n"));
          await s.waitFor("hello s_client\n");
          await s.send("hello netconn\n");
          assert.equal(await readString(conn, 14), "hello netconn\n");
        });
      }
    }
  },
);

Deno.test("tls server: tlsState on both sides, on both paths", async (t) => {
  await t.step(
    "Deno's path: the ALPN protocol, the name verified, verified on the client",
    async () => {
      await using ln = listenTls("127.0.0.1:0", { ...server, alpnProtocols: ["x-a"] });
      const accepted = ln.accept();
      await using c = await dialTls(ln.addr, {
        hostname: "localhost",
        caCerts,
        alpnProtocols: ["x-a"],
      });
      await using s = await accepted;
      assert.equal(
        s.tlsState().handshakeComplete,
        false,
        "before the server's handshake() is awaited",
      );
      await s.handshake();
      assert.deepEqual(c.tlsState(), {
        handshakeComplete: true,
        version: null,
        cipherSuite: null,
        alpnProtocol: "x-a",
        serverName: "localhost",
        peerCertificates: [],
        verified: true,
      });
      assert.deepEqual(s.tlsState(), {
        handshakeComplete: true,
        version: null,
        cipherSuite: null,
        alpnProtocol: "x-a",
        serverName: null,
        peerCertificates: [],
        verified: false,
      });
    },
  );
  await t.step("node:tls path: everything on the server", async () => {
    await using p = await mtls(
      { clientAuth: "require-and-verify", clientCas: [ca], alpnProtocols: ["x-b", "x-a"] },
      client,
    );
    await p.server.handshake();
    const state = p.server.tlsState();
    assert.equal(state.alpnProtocol, null, "the client offered none");
    assert.equal(state.verified, true);
    state.peerCertificates.length = 0; // a snapshot: the conn's own stays
    assert.equal(p.server.tlsState().peerCertificates.length, 1);
  });
});

/** A plain TCP pair upgraded to TLS, netconn on both sides: the client verifies localhost. */
async function upgradedPair(serverOptions: Record<string, unknown> = {}, clientCert = {}) {
  const ln = listen("127.0.0.1:0");
  const accepted = ln.accept();
  const plainClient = await dial(ln.addr);
  const plainServer = await accepted;
  const [c, s] = await Promise.allSettled([
    clientCert === undefined || Object.keys(clientCert).length === 0
      ? plainClient.startTls({ hostname: "localhost", caCerts })
      : Promise.reject(new Error("unused")),
    plainServer.startTls({ isServer: true, ...server, ...serverOptions }),
  ]);
  if (c.status === "rejected" || s.status === "rejected") {
    if (c.status === "fulfilled") c.value.close();
    if (s.status === "fulfilled") s.value.close();
    plainClient.close();
    plainServer.close();
    await ln[Symbol.asyncDispose]();
    throw c.status === "rejected" ? c.reason : (s as PromiseRejectedResult).reason;
  }
  return {
    plainClient,
    plainServer,
    client: c.value,
    server: s.value,
    async [Symbol.asyncDispose]() {
      await c.value[Symbol.asyncDispose]();
      await s.value[Symbol.asyncDispose]();
      await ln[Symbol.asyncDispose]();
    },
  };
}

Deno.test("tls server: startTls({ isServer: true }) upgrades the server side; the plaintext conn is consumed", async () => {
  await using p = await upgradedPair({ alpnProtocols: ["x-a"] });
  assert.equal(p.server.network, "tls");
  assert.equal(p.server.tlsState().handshakeComplete, true, "startTls returns after the handshake");
  assert.equal(p.server.tlsState().version, "TLSv1.3");
  assert.equal(p.server.tlsState().serverName, "localhost");
  await p.client.write(encoder.encode("EHLO over tls"));
  assert.equal(await readString(p.server, 13), "EHLO over tls");
  await p.server.write(encoder.encode("250 ok"));
  assert.equal(await readString(p.client, 6), "250 ok");
  await mustReject(p.plainServer.read(new Uint8Array(1)), ClosedError);
  await mustReject(p.plainServer.write(new Uint8Array(1)), ClosedError);
  // Half-close over node:tls: close_notify then FIN; the server still reads.
  await p.server.closeWrite();
  assert.equal(await p.client.read(new Uint8Array(1)), null);
  const late = await mustReject(p.server.write(encoder.encode("x")), NetError);
  assert.equal(late.kind, "broken-pipe");
  await p.client.write(encoder.encode("after"));
  assert.equal(await readString(p.server, 5), "after");
});

Deno.test("tls server: server-side startTls refuses while busy, checks options first, and deadlines bound its handshake", async () => {
  await using ln = listen("127.0.0.1:0");
  const accepted = ln.accept();
  await using plainClient = await dial(ln.addr);
  await using plainServer = await accepted;
  // Bad options: a TypeError, nothing consumed, nothing sent.
  for (
    const bad of [
      { isServer: true },
      { isServer: true, cert: "not pem", key: server.key },
      { isServer: true, ...server, clientAuth: "sometimes" },
      { isServer: true, ...server, clientAuth: "require-and-verify" },
      { isServer: true, ...server, clientCas: ca },
      { isServer: true, ...server, clientAuth: "verify-if-given", clientCas: "garbage" },
      { isServer: "yes", ...server },
      { isServer: true, ...server, hostname: "localhost" },
      { isServer: false, clientAuth: "require" },
      { ...server, clientCas: ca },
      { isServer: true, cert: server.cert },
      { isServer: true, ...server, signal: new AbortController() },
    ]
  ) {
    await mustReject(plainServer.startTls(bad as never), TypeError);
  }
  await mustReject(
    plainServer.startTls({ isServer: true, ...server, alpnProtocols: [""] }),
    RangeError,
  );
  // Bytes read from the socket, not yet returned: busy, nothing lost.
  const first = plainServer.read(new Uint8Array(2));
  await mustNotSettle(first, 20, "a read with no data");
  await plainClient.write(encoder.encode("abcdef"));
  assert.equal(await first, 2);
  const busy = await mustReject(plainServer.startTls({ isServer: true, ...server }), NetError);
  assert.equal(busy.kind, "busy");
  assert.equal(decoder.decode(await readAtLeast(plainServer, 4)), "cdef");
  // A client that never says a word: the read deadline ends the handshake.
  plainServer.setReadDeadline(Date.now() + 100);
  const upgrading = plainServer.startTls({ isServer: true, ...server });
  await mustNotSettle(upgrading, 30, "a server handshake with a silent client");
  const err = await mustReject(upgrading, NetError, 2000, "the deadline");
  assert.equal(err.timeout, true);
  assert.equal(err.op, "handshake");
  // The socket was closed with it: the client reads EOF.
  assert.equal(await mustSettle(plainClient.read(new Uint8Array(8)), 2000), null);
});

Deno.test("tls server: a signal ends a server-side startTls", async () => {
  await using ln = listen("127.0.0.1:0");
  const accepted = ln.accept();
  await using _plainClient = await dial(ln.addr);
  await using plainServer = await accepted;
  const controller = new AbortController();
  const upgrading = plainServer.startTls({ isServer: true, ...server, signal: controller.signal });
  await mustNotSettle(upgrading, 20, "a server handshake with a silent client");
  controller.abort(new Error("stop"));
  const err = await mustReject(upgrading, NetError);
  assert.equal(err.kind, "aborted");
});

/** A MakePipe of conns upgraded with startTls on both sides (the server over node:tls). */
const upgradedEnds: MakePipe = async () => {
  const p = await upgradedPair();
  return [p.client as ConnUnderTest, p.server as ConnUnderTest, () => p[Symbol.asyncDispose]()];
};

/** A MakePipe of mTLS conns: listenTls with require-and-verify, dialTls with a client certificate. */
const mtlsEnds: MakePipe = async () => {
  const p = await mtls({ clientAuth: "require-and-verify", clientCas: ca }, client);
  return [p.client as ConnUnderTest, p.server as ConnUnderTest, () => p[Symbol.asyncDispose]()];
};

Deno.test("conformance: server-side STARTTLS (node:tls)", async (t) => {
  await testConn(t, upgradedEnds);
});

Deno.test("conformance: mTLS, listenTls require-and-verify (node:tls)", async (t) => {
  await testConn(t, mtlsEnds);
});

Deno.test(
  "tls server: SNI serves the certificate for the name asked (openssl s_client -servername), the default otherwise; setCertificates rotates",
  needs("openssl"),
  async () => {
    const other = certifiedKey("other"); // other.example and *.wild.example
    await using ln = listenTls("127.0.0.1:0", {
      ...server,
      sni: { "Other.Example": other, "*.wild.example": other },
    });
    /** The subject's CN of the certificate s_client got for `serverName`, and the server's state. */
    const served = async (serverName: string) => {
      await using s = await startSClient({ port: ln.addr.port, serverName, args: ["-ign_eof"] });
      await using conn = await ln.accept();
      await conn.handshake();
      const out = await s.waitFor(/Verify return code: 0 \(ok\)/);
      return { cn: out.match(/subject=.*CN\s*=\s*([^\s,/]+)/)?.[1], state: conn.tlsState() };
    };
    let got = await served("other.example");
    assert.equal(got.cn, "other.example");
    assert.equal(got.state.serverName, "other.example");
    assert.equal((await served("a.wild.example")).cn, "other.example", "the wildcard");
    got = await served("localhost");
    assert.equal(got.cn, "localhost", "a name not in the table gets the default");
    // Rotation: new handshakes get the new certificates; an open conn and the listener stay.
    const accepted = ln.accept();
    await using before = await dialTls(ln.addr, { hostname: "localhost", caCerts });
    await using beforeServer = await accepted;
    ln.setCertificates({ cert: other.cert, key: other.key, sni: { "localhost": server } });
    got = await served("localhost");
    assert.equal(got.cn, "localhost");
    got = await served("other.example"); // no longer in the table
    assert.equal(got.cn, "other.example", "the new default");
    await before.write(encoder.encode("old"));
    assert.equal(await readString(beforeServer, 3), "old", "the conn from before goes on");
    // Bad certificates change nothing.
    assert.throws(() => ln.setCertificates({ cert: "x", key: server.key }), TypeError);
    assert.throws(() => ln.setCertificates({ ...server, sni: { "bad name": server } }), TypeError);
    assert.throws(() => ln.setCertificates(null as never), TypeError);
    assert.equal((await served("localhost")).cn, "localhost");
  },
);

Deno.test("tls server: setCertificates on Deno's TLS listener is NotSupportedError; bad SNI tables are TypeErrors", async () => {
  await using ln = listenTls("127.0.0.1:0", server);
  assert.throws(() => ln.setCertificates(server), NotSupportedError);
  assert.throws(() => ln.setCertificates({ cert: "x", key: "y" }), TypeError, "arguments first");
  for (
    const sni of [[], "other.example", { "127.0.0.1": server }, { "a b": server }, {
      "x.example": {},
    }]
  ) {
    assert.throws(() => listenTls("127.0.0.1:0", { ...server, sni: sni as never }), TypeError);
  }
  await using plain = listen("127.0.0.1:0");
  assert.throws(() => plain.setCertificates(server), NotSupportedError);
});

Deno.test(
  "tls server: openssl s_client -starttls smtp upgrades through the SMTP-like example server",
  needs("openssl"),
  async () => {
    await using ln = listen("127.0.0.1:0");
    const session = (async () => serveSmtp(await ln.accept(), { ...server, idleMs: 5000 }))();
    await using s = await startSClient({
      port: ln.addr.port,
      args: ["-starttls", "smtp", "-ign_eof", "-crlf"],
    });
    await s.waitFor("Verify return code: 0 (ok)");
    await s.send("EHLO client.example\n");
    await s.waitFor("250 8BITMIME");
    // s_client prints only what came over TLS: STARTTLS is not offered again there.
    assert.ok(!s.stdout.includes("250-STARTTLS"), s.stdout);
    await s.send("QUIT\n");
    await s.waitFor("221 Bye");
    const state = await mustSettle(session, 5000, "the session");
    assert.equal(state?.version, "TLSv1.3");
    assert.equal(state?.serverName, "localhost");
  },
);

Deno.test("tls server: the SMTP-like example refuses bytes pipelined after STARTTLS, and commands before it", async () => {
  await using ln = listen("127.0.0.1:0");
  const session = (async () => serveSmtp(await ln.accept(), { ...server, idleMs: 5000 }))();
  await using c = await dial(ln.addr);
  const br = new BufReader(c);
  assert.match((await br.readString("\n"))!, /^220 /);
  await c.write(encoder.encode("MAIL FROM:<a@b>\r\n"));
  assert.match((await br.readString("\n"))!, /^530 /);
  await c.write(encoder.encode("STARTTLS\r\nMAIL FROM:<injected@b>\r\n"));
  assert.match((await br.readString("\n"))!, /^501 /);
  assert.equal(await br.readString("\n"), null, "the server closed the conn");
  assert.equal(await mustSettle(session, 5000, "the session"), null);
});

/** Runs a client of another language against `port`; returns what it printed. */
async function foreignClient(
  lang: "go" | "python3",
  port: number,
  cert?: string,
  key?: string,
): Promise<string> {
  const files = cert === undefined ? [] : [certPath(`${cert}.pem`), certPath(`${key ?? cert}.key`)];
  const args = lang === "go"
    ? [
      "run",
      "tests/peers/tls_client.go",
      `127.0.0.1:${port}`,
      "localhost",
      certPath("ca.pem"),
      ...files,
    ]
    : [
      "tests/peers/tls_client.py",
      "127.0.0.1",
      String(port),
      "localhost",
      certPath("ca.pem"),
      ...files,
    ];
  const out = await new Deno.Command(lang, { args, stdout: "piped", stderr: "piped" }).output();
  return decoder.decode(out.stdout) + decoder.decode(out.stderr);
}

/** Serves one conn of `ln`: handshake, read a line, echo it; returns the handshake's state or error. */
async function echoOne(ln: { accept(): Promise<TlsConn> }) {
  await using conn = await ln.accept();
  try {
    await conn.handshake();
  } catch (e) {
    return e as NetError;
  }
  const buf = new Uint8Array(64);
  let line = "";
  while (!line.endsWith("\n")) {
    const n = await conn.read(buf);
    if (n === null) break;
    line += decoder.decode(buf.subarray(0, n));
  }
  await conn.write(encoder.encode(line));
  return conn.tlsState();
}

for (const lang of ["go", "python3"] as const) {
  Deno.test(
    `tls server: ${
      lang === "go" ? "Go's crypto/tls" : "Python's ssl"
    } as the client of an mTLS listener`,
    needs(lang),
    async () => {
      await using ln = listenTls("127.0.0.1:0", {
        ...server,
        clientAuth: "require-and-verify",
        clientCas: ca,
      });
      let serving = echoOne(ln);
      let out = await foreignClient(lang, ln.addr.port, "client");
      let state = await serving;
      assert.match(out, /handshake: TLSv1\.3/, out);
      assert.match(out, /got: hello from /, out);
      assert.ok(!(state instanceof NetError) && state.verified, String(state));
      // No certificate, and a stranger's: refused, nothing echoed.
      for (const cert of [undefined, "stranger"]) {
        serving = echoOne(ln);
        out = await foreignClient(lang, ln.addr.port, cert);
        state = await serving;
        assert.ok(state instanceof NetError && state.kind === "tls", String(state));
        assert.doesNotMatch(out, /got:/, out);
      }
    },
  );
}

Deno.test(
  "tls server: a client presenting a certificate with another key (a forged proof) is refused",
  needs("go"),
  async () => {
    await using ln = listenTls("127.0.0.1:0", {
      ...server,
      clientAuth: "require-and-verify",
      clientCas: ca,
    });
    const serving = echoOne(ln);
    // client.pem, signed with server.key: Go sends it, the proof cannot verify.
    const out = await foreignClient("go", ln.addr.port, "client", "server");
    const state = await serving;
    assert.ok(state instanceof NetError && state.kind === "tls", String(state));
    // Refused by the TLS layer's check of the proof, before netconn's chain check.
    assert.doesNotMatch(state.message, /client certificate:/, state.message);
    assert.doesNotMatch(out, /got:/, out);
  },
);

Deno.test("tls server: on the node:tls path tlsState is complete once the handshake is, handshake() awaited or not", async () => {
  await using p = await mtls({ clientAuth: "require-and-verify", clientCas: ca }, client);
  await p.client.write(encoder.encode("x"));
  assert.equal(await readString(p.server, 1), "x"); // the read waited for the handshake
  assert.equal(p.server.tlsState().handshakeComplete, true);
  assert.equal(p.server.tlsState().verified, true);
});

Deno.test("tls server: a node:tls conn that is not read holds the peer back (bounded memory), and loses nothing", async () => {
  await using p = await upgradedPair();
  const size = 32 << 20;
  const sent = new Uint8Array(size).map((_, i) => i % 251);
  const writing = p.client.write(sent);
  await mustNotSettle(writing, 300, "a 32 MiB write to a server that does not read");
  const got = await readAtLeast(p.server, size);
  assert.equal(await mustSettle(writing, 5000, "the write once the server reads"), size);
  assert.equal(got.length, size);
  assert.ok(got.every((b, i) => b === i % 251), "every byte in order");
  // The other way: the node:tls side's write waits for a client that does not read.
  const back = p.server.write(sent);
  await mustNotSettle(back, 300, "a 32 MiB write to a client that does not read");
  assert.equal((await readAtLeast(p.client, size)).length, size);
  assert.equal(await mustSettle(back, 5000, "the write once the client reads"), size);
});

Deno.test("tls server: a client that does not speak TLS fails the node:tls handshake with kind tls", async (t) => {
  const garbage: [string, Uint8Array][] = [
    ["an HTTP request", encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
    ["a record header promising 16 KiB, then EOF", new Uint8Array([22, 3, 1, 0x40, 0])],
    ["zeros", new Uint8Array(4096)],
  ];
  for (const [what, bytes] of garbage) {
    await t.step(what, async () => {
      await using ln = listenTls("127.0.0.1:0", { ...server, clientAuth: "request" });
      await using plain = await dial(ln.addr);
      await using conn = await ln.accept();
      await plain.write(bytes);
      await plain.closeWrite();
      const err = await mustReject(conn.handshake(), NetError, 5000, "the handshake");
      assert.ok(err.kind === "tls" || err.kind === "reset", `${err.kind}: ${err.message}`);
      await mustReject(conn.read(new Uint8Array(1)), NetError);
    });
  }
});
