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
import { certifiedKey, certText } from "../_kit/certs.ts";
import { startSClient } from "./_tls_peers.ts";
import { type ConnUnderTest, type MakePipe, testConn } from "../testing/mod.ts";

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
