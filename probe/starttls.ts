/**
 * Server-side STARTTLS beside Go's `tls.Server` over an upgraded conn: the
 * probe's Go client (`starttls-client`) sends "STARTTLS\n", reads "OK\n",
 * upgrades, sends 64 KiB, reads 64 KiB back and closes; then a second
 * client sends bytes in the clear after "STARTTLS\n", before its hello (the
 * command injection of CVE-2011-0411). The Go column is a Go server
 * (`tls.Server` after the plaintext line) with the same Go client; the
 * netconn column is a netconn server (`startTls({ isServer: true })`) with
 * the same Go client. Both servers read the line a byte at a time, so what
 * follows it is read by neither. Needs Go.
 *
 * @module
 */

import type { TcpConn, TlsConn } from "../mod.ts";
import { NetError } from "../errors.ts";
import { LOOPBACK } from "../_kit/loopback.ts";
import { certifiedKey } from "../_kit/certs.ts";
import { enc, ramp, rampMismatch, readFull } from "../_kit/bytes.ts";
import type { Agreement, Experiment, Lab, Outcome } from "./_lab.ts";
import type { GoResult } from "./_go.ts";
import { agreement, both, same, sameError } from "./_agree.ts";
import { bytes } from "./_cells.ts";

/** Bytes each way over TLS, as the Go case (`starttlsMessage`). */
const MESSAGE = 64 * 1024;
/** The ALPN protocol both sides offer, as the Go case (`starttlsALPN`). */
const ALPN = "netconn-probe";

/** Reads up to and including "\n", a byte at a time (at most 64 bytes); "" at EOF. */
async function readLine(conn: TcpConn): Promise<string> {
  const line: number[] = [];
  const b = new Uint8Array(1);
  while (line.length < 64) {
    if (await conn.read(b) === null) break;
    line.push(b[0]!);
    if (b[0] === 0x0a) break;
  }
  return new TextDecoder().decode(new Uint8Array(line));
}

/** Reads "STARTTLS\n" and answers "OK\n". */
async function answer(conn: TcpConn): Promise<void> {
  const line = await readLine(conn);
  if (line !== "STARTTLS\n") throw new Error(`expected STARTTLS, got ${JSON.stringify(line)}`);
  await conn.write(enc("OK\n"));
}

/** A NetError's kind, "other" for anything else. */
function kindOf(e: unknown): string {
  return e instanceof NetError ? e.kind : "other";
}

/** What the netconn server saw of the clean upgrade: Go's starttlsServe's figures. */
async function serveClean(
  lab: Lab,
  raw: TcpConn,
  key: { cert: string; key: string },
): Promise<Pick<Outcome, "numbers" | "facts"> & { text: string }> {
  const numbers: Record<string, number> = { serverHandshake: 0 };
  const facts: Record<string, string> = {};
  await answer(raw);
  let conn: TlsConn;
  try {
    conn = await raw.startTls({ isServer: true, ...key, alpnProtocols: [ALPN] });
  } catch (e) {
    facts.serverError = kindOf(e);
    return { text: `startTls: ${String(e)}`, numbers, facts };
  }
  lab.track(conn, () => conn[Symbol.asyncDispose]());
  numbers.serverHandshake = 1;
  const state = conn.tlsState();
  facts.version = state.version ?? "none";
  facts.alpn = state.alpnProtocol ?? "";
  facts.cipherSuite = state.cipherSuite ?? "none";
  numbers.verified = state.verified ? 1 : 0;
  numbers.peerCertificates = state.peerCertificates.length;
  const got = new Uint8Array(MESSAGE);
  try {
    await readFull(conn, got);
    numbers.serverReceived = MESSAGE;
    numbers.serverIntact = rampMismatch(got, 0) === -1 ? 1 : 0;
    await conn.write(ramp(MESSAGE));
  } catch (e) {
    facts.serverError = kindOf(e);
    numbers.serverReceived ??= 0;
    numbers.serverIntact ??= 0;
  }
  try {
    facts.serverAfterClose = await conn.read(new Uint8Array(1)) === null ? "eof" : "data";
  } catch (e) {
    facts.serverAfterClose = kindOf(e);
  }
  conn.close();
  const text = `${facts.version}, ALPN "${facts.alpn}", client verified ${state.verified}; ` +
    `read ${bytes(numbers.serverReceived ?? 0)}, intact ${numbers.serverIntact === 1}; ` +
    `then ${facts.serverAfterClose}`;
  return { text, numbers, facts };
}

/**
 * What the netconn server did with bytes after the line, before the hello.
 * It greets with "READY\n", as Go's starttlsServeInjected does, and waits
 * on its read when the command arrives, as a server that greets and then
 * waits for commands does: the read starts before the greeting's write, so
 * it waits whatever that write takes to settle.
 */
async function serveInjected(
  lab: Lab,
  raw: TcpConn,
  key: { cert: string; key: string },
): Promise<Pick<Outcome, "numbers" | "facts"> & { text: string }> {
  try {
    await Promise.all([answer(raw), raw.write(enc("READY\n"))]);
    const conn = await raw.startTls({ isServer: true, ...key, alpnProtocols: [ALPN] });
    lab.track(conn, () => conn[Symbol.asyncDispose]());
    conn.close();
    return {
      text: "bytes before the hello: the handshake succeeded",
      numbers: { injectedHandshake: 1 },
      facts: { injected: "none" },
    };
  } catch (e) {
    raw.close();
    const kind = kindOf(e);
    const message = e instanceof Error ? e.message : String(e);
    return {
      text: `bytes before the hello: startTls failed (${kind}: ${message})`,
      numbers: { injectedHandshake: 0 },
      facts: { injected: kind },
    };
  }
}

/**
 * The row's figures beside Go's: the server's side of the clean upgrade
 * (handshake, bytes intact, version, ALPN, cipher suite, whether it
 * verified a client, what its read after the client's close got), the Go
 * client's side (handshake, verified, bytes intact), and the server's error
 * for bytes before the hello; a "busy" refusal where Go's handshake fails
 * is the decision's ({@linkcode refusedInjection}). What the pipelining
 * client's own handshake got is shown, not compared: whether it reads the
 * server's FIN or its reset first is a race on both sides.
 */
export function compareStartTls(go: GoResult, ours: Outcome): Agreement {
  const g = go.numbers;
  const o = ours.numbers;
  const gf = go.facts ?? {};
  const of = ours.facts ?? {};
  return agreement(
    both("handshake", g.serverHandshake === 1, o.serverHandshake === 1),
    both("client's handshake", g.clientHandshake === 1, o.clientHandshake === 1),
    same("bytes to the server", g.serverReceived, o.serverReceived),
    both("intact to the server", g.serverIntact === 1, o.serverIntact === 1),
    same("bytes to the client", g.received, o.received),
    both("intact to the client", g.intact === 1, o.intact === 1),
    sameError(gf.version, of.version, "version"),
    sameError(gf.alpn, of.alpn, "ALPN"),
    sameError(gf.cipherSuite, of.cipherSuite, "cipher suite"),
    same("server verified a client", g.verified, o.verified),
    same("client certificates", g.peerCertificates, o.peerCertificates),
    same("client verified the server", g.clientVerified, o.clientVerified),
    sameError(gf.serverAfterClose, of.serverAfterClose, "server's read after the close"),
    sameError(gf.injected, of.injected, "bytes before the hello", ["tls", "busy"]),
  );
}

/**
 * The decision the row shows when netconn refuses the upgrade with kind
 * "busy" where Go's handshake fails on the injected bytes.
 */
export function refusedInjection(ours: Outcome, go: GoResult | undefined): string | undefined {
  if (ours.facts?.injected !== "busy") return undefined;
  const goSaid = go?.facts?.injected === undefined ? "" : ` (Go: ${go.facts.injected})`;
  return "bytes sent in the clear after STARTTLS, before the hello: Go's tls.Server reads them " +
    `as the first record and fails the handshake${goSaid}; netconn's read had taken them off the ` +
    "socket into its buffer, so startTls refuses with kind busy, the conn left as it was " +
    "(docs/probe.md, Decisions)";
}

/** A Go client upgrades to a netconn server that runs startTls({ isServer: true }). */
export const startTlsServer: Experiment = {
  name: "tls: server STARTTLS, Go client",
  go: "tls.Server over the upgraded conn: handshake, bytes intact; bytes before the hello fail it",
  goCase: "starttls",
  compare: compareStartTls,
  decision: refusedInjection,
  needsGo: true,
  needs: ["read"],
  async run(lab: Lab): Promise<Outcome> {
    const key = certifiedKey("server");
    const ln = lab.listen();
    const peer = lab.goPeer("starttls-client", `${LOOPBACK}:${ln.addr.port}`);
    const accept = async (): Promise<TcpConn> => {
      const conn = await ln.accept({ signal: lab.signal });
      return lab.track(conn, () => conn[Symbol.asyncDispose]());
    };
    const clean = await serveClean(lab, await accept(), key);
    const injected = await serveInjected(lab, await accept(), key);
    const go = await peer.result();
    const numbers = { ...go.numbers, ...clean.numbers, ...injected.numbers };
    const facts = { ...go.facts, ...clean.facts, ...injected.facts };
    const ok = go.error === undefined && numbers.serverHandshake === 1 &&
      numbers.clientHandshake === 1 && numbers.serverIntact === 1 && numbers.intact === 1 &&
      numbers.injectedHandshake === 0 && numbers.injectedClientHandshake === 0;
    return {
      netconn: `netconn server: ${clean.text}; ${injected.text}; Go client: ${go.text}` +
        (go.error === undefined ? "" : ` (failed: ${go.error})`),
      numbers,
      facts,
      ok,
    };
  },
};
