// Tests for the socket options of Conn, dial and listen. What the options do
// is tested once, on raw Deno sockets, in tests/sockopt/options_test.ts:
// Conn's setters only forward to those functions, so here they are tested as
// forwarders (each changes exactly what the sockopt function changes, and
// throws what it throws). Then what only Conn does: a reset as Conn's read
// reports it, listen's default backlog, closed conns, and runs without
// --allow-ffi and with --unstable-net in a subprocess (tests/_child.ts).
// dial's and accept's defaults and keepAlive option: tests/dial_test.ts.
//
// Run: deno test --allow-net --allow-ffi --allow-read --allow-run tests/conn_options_test.ts

import assert from "node:assert/strict";
import { ClosedError, dial, listen, NetError, type SocketOptions, type TcpConn } from "../mod.ts";
import { listenerFd, socketOptions } from "../sockopt/mod.ts";
import { maxListenerBacklog } from "../_sys/listen.ts";
import { libc } from "../_sys/libc.ts";
import { fillUntilBlocked, procNumber, procText } from "./_helpers.ts";
import { mustReject } from "../_kit/wait.ts";
import { pair, rawPair } from "../_kit/loopback.ts";
import { runDeno } from "../_kit/child.ts";
import type { Outcome } from "./_child.ts";
import { BAD_VALUES, type Setters, sockoptSetters } from "./sockopt/_bad_values.ts";

const LINUX = Deno.build.os === "linux";
const KiB = 1024;
const CHILD = new URL("./_child.ts", import.meta.url);

// ---- the setters forward ---------------------------------------------------

/** Every option of a conn: ./sockopt's setters and Deno's own two. */
interface Options extends Setters {
  setNoDelay(on: boolean): void;
  setKeepAlive(on: boolean): void;
  socketOptions(): SocketOptions;
}

/** A raw Deno conn with ./sockopt's functions as its setters. */
function rawOptions(conn: Deno.TcpConn): Options {
  return {
    ...sockoptSetters(conn),
    setNoDelay: (on) => conn.setNoDelay(on),
    setKeepAlive: (on) => conn.setKeepAlive(on),
    socketOptions: () => socketOptions(conn),
  };
}

/** Calls through every setter, with the values whose effects tests/sockopt checks. */
const STEPS: [string, (o: Options) => void][] = [
  ["setNoDelay(false)", (o) => o.setNoDelay(false)],
  ["setNoDelay(true)", (o) => o.setNoDelay(true)],
  ["setKeepAlive(false)", (o) => o.setKeepAlive(false)],
  ["setKeepAlive(true)", (o) => o.setKeepAlive(true)],
  ...[30_000, 1, 1_500, 0].map((ms): [string, (o: Options) => void] => [
    `setKeepAlivePeriod(${ms})`,
    (o) => o.setKeepAlivePeriod(ms),
  ]),
  ...[
    { enable: true, idle: 5_000, interval: 2_000, count: 3 },
    { enable: true, idle: -1, interval: 0, count: -1 },
    { enable: false, idle: 0, count: 0 },
    { enable: true },
  ].map((config): [string, (o: Options) => void] => [
    `setKeepAliveConfig(${JSON.stringify(config)})`,
    (o) => o.setKeepAliveConfig(config),
  ]),
  ...[0, 7, -1, -42].map((sec): [string, (o: Options) => void] => [
    `setLinger(${sec})`,
    (o) => o.setLinger(sec),
  ]),
  ["setReadBuffer(16 KiB)", (o) => o.setReadBuffer(16 * KiB)],
  ["setWriteBuffer(64 KiB)", (o) => o.setWriteBuffer(64 * KiB)],
  ["setReadBuffer(2^31 - 1)", (o) => o.setReadBuffer(2 ** 31 - 1)],
  ["setWriteBuffer(2^31 - 1)", (o) => o.setWriteBuffer(2 ** 31 - 1)],
  ["setReadBuffer(0)", (o) => o.setReadBuffer(0)],
];

Deno.test("conn options: each setter changes exactly what the sockopt function changes", async (t) => {
  await using p = await pair();
  using raw = await rawPair();
  const twin = rawOptions(raw.client);
  for (const [side, conn] of [["dialed", p.client], ["accepted", p.server]] as const) {
    await t.step(side, () => {
      // The same start on both: Conn's defaults differ from raw Deno's.
      for (const o of [conn, twin]) {
        o.setNoDelay(true);
        o.setKeepAliveConfig({ enable: true });
        o.setLinger(-1);
        o.setReadBuffer(64 * KiB);
        o.setWriteBuffer(64 * KiB);
      }
      assert.deepEqual(conn.socketOptions(), twin.socketOptions(), "the start");
      for (const [name, step] of STEPS) {
        step(conn);
        step(twin);
        assert.deepEqual(conn.socketOptions(), twin.socketOptions(), name);
      }
    });
  }
});

/** What `call` threw. */
function thrown(call: () => unknown): unknown {
  try {
    call();
  } catch (e) {
    return e;
  }
  return assert.fail("it must throw");
}

Deno.test("conn options: a bad value throws what the sockopt function throws, and changes nothing", async () => {
  await using p = await pair();
  using raw = await rawPair();
  const conn = p.client;
  for (const [name, call] of BAD_VALUES) {
    const before = conn.socketOptions();
    const got = thrown(() => call(conn));
    const want = thrown(() => call(sockoptSetters(raw.client)));
    assert.ok(want instanceof Error && got instanceof want.constructor, `${name}: ${String(got)}`);
    assert.equal((got as Error).message, want.message, name);
    // A value the OS rejects may come after others were set, as in Go.
    if (!want.message.includes("for this OS")) {
      assert.deepEqual(conn.socketOptions(), before, `${name}: a rejected value changes nothing`);
    }
  }

  // dial and listen check a keepalive period before any network I/O.
  for (const keepAlive of [NaN, Infinity, -Infinity]) {
    await mustReject(
      dial(p.ln.addr, { keepAlive }),
      RangeError,
      1000,
      `dial keepAlive ${keepAlive}`,
    );
    assert.throws(() => listen("127.0.0.1:0", { keepAlive }).close(), RangeError);
  }
});

/** Every option setter and socketOptions(), with a valid value. */
const SETTERS: [string, (c: TcpConn) => unknown][] = [
  ["setNoDelay", (c) => c.setNoDelay(true)],
  ["setKeepAlive", (c) => c.setKeepAlive(true)],
  ["setKeepAlivePeriod", (c) => c.setKeepAlivePeriod(30_000)],
  ["setKeepAliveConfig", (c) => c.setKeepAliveConfig({ enable: true })],
  ["setLinger", (c) => c.setLinger(0)],
  ["setReadBuffer", (c) => c.setReadBuffer(65_536)],
  ["setWriteBuffer", (c) => c.setWriteBuffer(65_536)],
  ["setReadBuffer(-1)", (c) => c.setReadBuffer(-1)],
  ["socketOptions", (c) => c.socketOptions()],
];

Deno.test("conn options: every setter and socketOptions on a closed conn throw ClosedError", async () => {
  await using p = await pair();
  p.client.close();
  await p.server[Symbol.asyncDispose]();
  for (const conn of [p.client, p.server]) {
    for (const [name, call] of SETTERS) {
      const err = thrown(() => call(conn));
      assert.ok(err instanceof ClosedError, `${name}: ${String(err)}`);
      assert.equal(err.op, "set", name);
      assert.match(err.message, /use of closed network connection/, name);
    }
  }
});

// ---- what only Conn does -----------------------------------------------------

Deno.test("conn options: linger 0 then close resets: the peer's read fails with kind reset", async () => {
  // Linux resets on close only while data is unsent: fill the pipe first.
  await using p = await pair();
  const { blocked } = await fillUntilBlocked(p.client);
  p.client.setLinger(0);
  p.client.close();
  await mustReject(blocked, NetError, 5000, "the blocked write, once its conn closed");
  const buf = new Uint8Array(256 * KiB);
  const reads = (async () => {
    while (await p.server.read(buf) !== null);
  })();
  const end = await mustReject(reads, NetError, 5000, "the peer's reads");
  assert.equal(end.kind, "reset");
  assert.equal(end.op, "read");
  assert.ok(!(end instanceof ClosedError), "the peer did not close: not a ClosedError");
});

/** A listener's accept-queue limit (Linux TCP_INFO tcpi_sacked): the backlog listen(2) kept. */
function acceptQueueLimit(ln: { addr: Deno.Addr }): number {
  const lib = libc("acceptQueueLimit");
  const info = new Uint8Array(104);
  const len = new Uint32Array([info.length]);
  const TCP_INFO = 11;
  assert.equal(lib.sym.getsockopt(listenerFd(ln), lib.c.IPPROTO_TCP, TCP_INFO, info, len), 0);
  return new DataView(info.buffer).getUint32(28, true);
}

Deno.test({
  name: "conn options: listen's default backlog is the OS's largest (somaxconn), as Go's",
  ignore: !LINUX,
  async fn() {
    await using ln = listen("127.0.0.1:0");
    assert.equal(acceptQueueLimit(ln), maxListenerBacklog());
    await using small = listen("127.0.0.1:0", { backlog: 3 });
    assert.equal(acceptQueueLimit(small), 3);
  },
});

// ---- other permissions and flags, in a subprocess -------------------------------

/** The keepalive timer of the TCP socket from `local` to `remote` on 127.0.0.1, from /proc/net/tcp. */
async function keepAliveTimer(
  local: number,
  remote: number,
): Promise<{ kind: number; seconds: number }> {
  const hex = (port: number): string =>
    `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of (await procText("/proc/net/tcp")).split("\n")) {
    // sl local rem st tx:rx tr:when ...; tr 2 is the keepalive timer, when is in 1/100 s.
    const fields = line.trim().split(/\s+/);
    // st 01: established (a closed conn of the same ports may linger in TIME_WAIT).
    if (fields[1] !== hex(local) || fields[2] !== hex(remote) || fields[3] !== "01") continue;
    const [tr, when] = fields[5]!.split(":");
    return { kind: parseInt(tr!, 16), seconds: parseInt(when!, 16) / 100 };
  }
  return assert.fail(`no established socket ${local} -> ${remote} in /proc/net/tcp`);
}

Deno.test("conn options: without --allow-ffi the FFI setters throw NotSupportedError; plain dial and listen work, keepalive on", async () => {
  await using child = await runDeno(["--allow-net"], CHILD, "conn-no-ffi");
  const r = child.result as {
    supported: boolean;
    setters: Record<string, Outcome>;
    plain: Record<string, Outcome>;
    dialPeriod: Outcome;
    listenPeriod: Outcome;
    echoed: string;
    client: { local: number; remote: number };
    server: { local: number; remote: number };
  };
  assert.equal(r.supported, false);
  assert.equal(Object.keys(r.setters).length, 6);
  const calls = [...Object.entries(r.setters), ["dial", r.dialPeriod], ["listen", r.listenPeriod]];
  for (const [name, e] of calls as [string, Outcome][]) {
    assert.ok(e !== "no error", `${name} must throw`);
    assert.equal(e.name, "NotSupportedError", `${name}: ${JSON.stringify(e)}`);
    assert.equal(e.kind, "not-supported", name);
    assert.match(e.message, /--allow-ffi/, name);
  }
  assert.deepEqual(r.plain, { setNoDelay: "no error", setKeepAlive: "no error" });
  assert.equal(r.echoed, "hello", "plain dial and listen carry data");
  if (LINUX) {
    // Keepalive is on with the OS's timing (Linux: tcp_keepalive_time), not Go's 15 s.
    const osIdle = await procNumber("/proc/sys/net/ipv4/tcp_keepalive_time");
    for (const [side, s] of [["dialed", r.client], ["accepted", r.server]] as const) {
      const timer = await keepAliveTimer(s.local, s.remote);
      assert.equal(timer.kind, 2, `${side}: the keepalive timer runs`);
      assert.ok(timer.seconds > 15 && timer.seconds <= osIdle, `${side}: ${timer.seconds} s`);
    }
  }
  const { code, stderr } = await child.finish();
  assert.equal(code, 0, stderr);
});

Deno.test("conn options: reusePort in a subprocess: NotSupportedError without --unstable-net, a shared port with it", async () => {
  await using without = await runDeno(["--allow-net"], CHILD, "reuse-port");
  const exited = await without.finish();
  assert.equal(exited.code, 0, `the process lives on: ${exited.stderr}`);
  const error = without.result.error as Outcome;
  assert.ok(error !== "no error" && error !== undefined, "listen must throw");
  assert.equal(error.name, "NotSupportedError");
  assert.equal(error.kind, "not-supported");
  assert.match(error.message, /--unstable-net/);

  await using withFlag = await runDeno(["--allow-net", "--unstable-net"], CHILD, "reuse-port");
  const done = await withFlag.finish();
  assert.equal(done.code, 0, done.stderr);
  const { ports, dials, counts } = withFlag.result as {
    ports: number[];
    dials: number;
    counts: number[];
  };
  assert.equal(ports[0], ports[1], "two listeners on one port");
  assert.equal(counts[0]! + counts[1]!, dials, "every dial was accepted");
  assert.ok(counts[0]! > 0 && counts[1]! > 0, `the kernel spreads dials: ${counts}`);
});
