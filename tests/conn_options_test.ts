// Tests for the socket options of Conn, dial and listen: each option set and
// read back with conn.socketOptions(), what the options do (linger 0 resets,
// small buffers make writes block sooner, the backlog bounds dials nobody
// accepts), closed conns, bad values, and runs without --allow-ffi and with
// --unstable-net in a subprocess (tests/_conn_options_child.ts). Loopback.
//
// Run: deno test --allow-net --allow-ffi --allow-read --allow-run tests/conn_options_test.ts

import assert from "node:assert/strict";
import {
  ClosedError,
  type Conn,
  dial,
  listen,
  type Listener,
  NetError,
  NotSupportedError,
  type SocketOptions,
} from "../mod.ts";
import { listenerFd, setReadBuffer } from "../sockopt/mod.ts";
import { maxListenerBacklog } from "../sockopt/_listen.ts";
import { libc, readFirstLine } from "../sockopt/_libc.ts";
import { mustNotSettle, mustReject, mustSettle, pair, within } from "./_helpers.ts";

const LINUX = Deno.build.os === "linux";
const KiB = 1024;
/** Linux reports twice the buffer size asked for (the rest covers its bookkeeping). */
const DOUBLED = LINUX ? 2 : 1;
const CHILD = new URL("./_conn_options_child.ts", import.meta.url).pathname;

/** A number from a one-line /proc file, read through libc (Deno needs --allow-all for /proc). */
function procNumber(path: string): number {
  const line = readFirstLine(libc("procNumber"), path);
  assert.ok(line !== undefined, `cannot read ${path}`);
  return Number(line.trim());
}

// ---- each option set and read back -----------------------------------------

Deno.test("conn options: each setter's value reads back through socketOptions", async (t) => {
  await using p = await pair();
  for (const [side, conn] of [["dialed", p.client], ["accepted", p.server]] as const) {
    await t.step(side, () => {
      const get = (): SocketOptions => conn.socketOptions();

      conn.setNoDelay(false);
      assert.equal(get().noDelay, false, "setNoDelay(false): Nagle on");
      conn.setNoDelay(true);
      assert.equal(get().noDelay, true, "setNoDelay(true): Nagle off");

      conn.setKeepAlive(false);
      assert.equal(get().keepAlive, false, "setKeepAlive(false)");
      conn.setKeepAlive(true);
      assert.equal(get().keepAlive, true, "setKeepAlive(true)");

      // Whole seconds, rounded up; 0 is Go's 15 s.
      const periods = [[30_000, 30_000], [1, 1_000], [1_500, 2_000], [0, 15_000]] as const;
      for (const [ms, want] of periods) {
        conn.setKeepAlivePeriod(ms);
        const o = get();
        assert.deepEqual([o.keepAliveIdle, o.keepAliveInterval], [want, want], `period ${ms}`);
      }

      conn.setKeepAliveConfig({ enable: true, idle: 5_000, interval: 2_000, count: 3 });
      assert.deepEqual(pick(get()), { keepAlive: true, idle: 5_000, interval: 2_000, count: 3 });
      // Negative fields leave the value as it was; zero ones take Go's defaults.
      conn.setKeepAliveConfig({ enable: true, idle: -1, interval: 0, count: -1 });
      assert.deepEqual(pick(get()), { keepAlive: true, idle: 5_000, interval: 15_000, count: 3 });
      conn.setKeepAliveConfig({ enable: false, idle: 0, count: 0 });
      assert.deepEqual(pick(get()), { keepAlive: false, idle: 15_000, interval: 15_000, count: 9 });
      conn.setKeepAliveConfig({ enable: true });
      assert.deepEqual(pick(get()), { keepAlive: true, idle: 15_000, interval: 15_000, count: 9 });

      for (const [sec, want] of [[0, 0], [7, 7], [-1, -1], [-42, -1]] as const) {
        conn.setLinger(sec);
        assert.equal(get().linger, want, `linger ${sec}`);
      }

      conn.setReadBuffer(16 * KiB);
      conn.setWriteBuffer(64 * KiB);
      assert.equal(get().readBuffer, 16 * KiB * DOUBLED);
      assert.equal(get().writeBuffer, 64 * KiB * DOUBLED);
      if (LINUX) {
        // The kernel caps what it is asked for at rmem_max / wmem_max, then doubles.
        conn.setReadBuffer(2 ** 31 - 1);
        conn.setWriteBuffer(2 ** 31 - 1);
        assert.equal(get().readBuffer, 2 * procNumber("/proc/sys/net/core/rmem_max"));
        assert.equal(get().writeBuffer, 2 * procNumber("/proc/sys/net/core/wmem_max"));
        // 0 is allowed, as in Go; the kernel keeps a floor.
        conn.setReadBuffer(0);
        assert.ok(get().readBuffer > 0 && get().readBuffer < 16 * KiB, `${get().readBuffer}`);
      }
    });
  }
});

function pick(o: SocketOptions): Record<string, number | boolean> {
  return {
    keepAlive: o.keepAlive,
    idle: o.keepAliveIdle,
    interval: o.keepAliveInterval,
    count: o.keepAliveCount,
  };
}

Deno.test("conn options: dial and listen keepAlive options show in socketOptions on both sides", async () => {
  for (
    const [keepAlive, want] of [
      [true, { keepAlive: true, idle: 15_000, interval: 15_000, count: 9 }],
      [0, { keepAlive: true, idle: 15_000, interval: 15_000, count: 9 }],
      [45_500, { keepAlive: true, idle: 46_000, interval: 46_000, count: 9 }],
      [false, { keepAlive: false }],
      [-1, { keepAlive: false }],
    ] as const
  ) {
    await using p = await pair({ dial: { keepAlive }, listen: { keepAlive } });
    for (const conn of [p.client, p.server]) {
      const got = want.keepAlive ? pick(conn.socketOptions()) : {
        keepAlive: conn.socketOptions().keepAlive,
      };
      assert.deepEqual(got, want, `keepAlive ${keepAlive}`);
    }
  }
});

// ---- what the options do -----------------------------------------------------

/** How long a write that did not return must then stay pending to count as blocked. */
const STUCK_MS = 300; // longer than Linux's largest delayed-ACK delay (200 ms)
const CHUNK = 64 * KiB;

/**
 * Writes 64 KiB chunks to `conn`, whose peer does not read, until one
 * blocks: it has not returned after `wait` ms (must not return) and then not
 * after STUCK_MS more. One that returns late grows `wait` by 5/4, so a busy
 * machine is not taken for a full pipe. Close the conn to end the stuck
 * write: its ClosedError's bytesWritten completes the count.
 */
async function fillUntilBlocked(
  conn: Conn,
): Promise<{ accepted: number; stuck: Promise<NetError> }> {
  const chunk = new Uint8Array(CHUNK);
  let accepted = 0;
  let wait = 20;
  while (accepted < 256 * 1024 * KiB) {
    const write = conn.write(chunk);
    let n = await within(write, wait);
    if (typeof n !== "number") {
      n = await within(write, STUCK_MS);
      if (typeof n !== "number") {
        const stuck = write.then(
          () => assert.fail("the stuck write must fail when the conn closes"),
          (e: unknown) => (assert.ok(e instanceof NetError, String(e)), e),
        );
        return { accepted, stuck };
      }
      wait = Math.ceil(wait * 5 / 4);
    }
    accepted += n;
  }
  return assert.fail("no write blocked within 256 MiB");
}

/** Reads `conn` to the end: the byte count, and null at EOF or the error. */
async function readToEnd(conn: Conn): Promise<{ read: number; end: unknown }> {
  const buf = new Uint8Array(256 * KiB);
  let read = 0;
  try {
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) read += n;
    return { read, end: null };
  } catch (e) {
    return { read, end: e };
  }
}

Deno.test("conn options: linger 0 then close resets: the peer's read fails with kind reset", async (t) => {
  // Linux resets on close only while data is unsent: fill the pipe first.
  await t.step("linger 0: part of the data, then a reset", async () => {
    await using p = await pair();
    const { accepted, stuck } = await fillUntilBlocked(p.client);
    p.client.setLinger(0);
    assert.equal(p.client.socketOptions().linger, 0);
    p.client.close();
    const total = accepted + ((await stuck).bytesWritten ?? 0);
    const { read, end } = await mustSettle(readToEnd(p.server), 5000, "the peer's reads");
    assert.ok(end instanceof NetError, `the peer's read ends in ${String(end)}`);
    assert.equal(end.kind, "reset");
    assert.equal(end.op, "read");
    assert.ok(!(end instanceof ClosedError), "the peer did not close: not a ClosedError");
    assert.ok(read < total, `unsent data is discarded: the peer read ${read} of ${total}`);
  });
  await t.step("the default: every accepted byte, then EOF", async () => {
    await using p = await pair();
    const { accepted, stuck } = await fillUntilBlocked(p.client);
    assert.equal(p.client.socketOptions().linger, -1);
    p.client.close();
    const total = accepted + ((await stuck).bytesWritten ?? 0);
    const { read, end } = await mustSettle(readToEnd(p.server), 5000, "the peer's reads");
    assert.equal(end, null, "EOF");
    assert.equal(read, total, "every byte the OS accepted arrives");
  });
});

/** Options set before a threshold is measured. */
interface Setup {
  /** On the listener, before the dial: accepted conns inherit them. */
  listener?: (ln: Listener) => void;
  /** On the conns, before any data flows. */
  conns?: (client: Conn, server: Conn) => void;
}

/** Bytes a write loop gets accepted before a write blocks, and the kernel's buffer sizes then. */
async function threshold(
  setup: Setup,
): Promise<{ threshold: number; sndbuf: number; rcvbuf: number }> {
  await using ln = listen("127.0.0.1:0");
  setup.listener?.(ln);
  await using client = await mustSettle(dial(ln.addr), 5000, "the dial");
  await using server = await mustSettle(ln.accept(), 5000, "the accept");
  setup.conns?.(client, server);
  const { accepted, stuck } = await fillUntilBlocked(client);
  const sndbuf = client.socketOptions().writeBuffer;
  const rcvbuf = server.socketOptions().readBuffer;
  client.close();
  return { threshold: accepted + ((await stuck).bytesWritten ?? 0), sndbuf, rcvbuf };
}

Deno.test("conn options: small buffers make writes block sooner", async () => {
  const [normal, small, connOnly] = await Promise.all([
    threshold({}),
    // 16 KiB each side: SO_SNDBUF on the dialed conn, SO_RCVBUF on the listener before the dial.
    threshold({
      listener: (ln) => setReadBuffer(ln, 16 * KiB),
      conns: (client) => client.setWriteBuffer(16 * KiB),
    }),
    // Both through Conn, the receiver's on the accepted conn before any data flows.
    threshold({
      conns: (client, server) => {
        client.setWriteBuffer(16 * KiB);
        server.setReadBuffer(16 * KiB);
      },
    }),
  ]);
  for (const [name, m] of [["default", normal], ["16 KiB", small], ["16 KiB via Conn", connOnly]]) {
    const { threshold: n, sndbuf, rcvbuf } = m as typeof normal;
    // What the kernel holds is bounded by the sizes it reports (which include its overhead).
    assert.ok(n > 0 && n <= sndbuf + rcvbuf + CHUNK, `${name}: ${n} vs ${sndbuf} + ${rcvbuf}`);
  }
  assert.equal(small.sndbuf, 16 * KiB * DOUBLED);
  assert.equal(small.rcvbuf, 16 * KiB * DOUBLED);
  assert.ok(small.threshold < normal.threshold / 4, `${small.threshold} vs ${normal.threshold}`);
  assert.ok(
    connOnly.threshold < normal.threshold / 4,
    `${connOnly.threshold} vs ${normal.threshold}`,
  );
});

// ---- listen: backlog and reusePort --------------------------------------------

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
  name: "conn options: listen's default backlog is somaxconn, as Go's",
  ignore: !LINUX,
  async fn() {
    await using ln = listen("127.0.0.1:0");
    assert.equal(maxListenerBacklog(), procNumber("/proc/sys/net/core/somaxconn"));
    assert.equal(acceptQueueLimit(ln), maxListenerBacklog());
    await using small = listen("127.0.0.1:0", { backlog: 3 });
    assert.equal(acceptQueueLimit(small), 3);
  },
});

Deno.test("conn options: backlog n lets n + 1 dials complete while nobody accepts; the next hangs", async () => {
  const n = 3;
  await using ln = listen("127.0.0.1:0", { backlog: n });
  const conns: Conn[] = [];
  try {
    for (let i = 0; i < n + 1; i++) conns.push(await mustSettle(dial(ln.addr), 5000, `dial ${i}`));
    const controller = new AbortController();
    const next = dial(ln.addr, { signal: controller.signal });
    await mustNotSettle(next, 300, `dial ${n + 1}, beyond the backlog`);
    controller.abort();
    const err = await mustReject(next, NetError, 5000, "the hanging dial, aborted");
    assert.equal(err.kind, "aborted");
  } finally {
    for (const c of conns) await c[Symbol.asyncDispose]();
  }
});

Deno.test({
  name: "conn options: reusePort without --unstable-net is a NotSupportedError, not an exit",
  // --unstable-net (which also exposes Deno.listenDatagram) makes reusePort work.
  ignore: typeof (Deno as { listenDatagram?: unknown }).listenDatagram === "function",
  fn() {
    const err = assertThrows(() => listen("127.0.0.1:0", { reusePort: true }).close());
    assert.ok(err instanceof NotSupportedError, String(err));
    assert.equal(err.kind, "not-supported");
    assert.match(err.message, /--unstable-net/);
  },
});

function assertThrows(call: () => unknown): unknown {
  try {
    call();
  } catch (e) {
    return e;
  }
  return assert.fail("it must throw");
}

// ---- closed conns and bad values ----------------------------------------------

/** Every option setter and socketOptions(), with a valid value. */
const SETTERS: [string, (c: Conn) => unknown][] = [
  ["setNoDelay", (c) => c.setNoDelay(true)],
  ["setKeepAlive", (c) => c.setKeepAlive(true)],
  ["setKeepAlivePeriod", (c) => c.setKeepAlivePeriod(30_000)],
  ["setKeepAliveConfig", (c) => c.setKeepAliveConfig({ enable: true })],
  ["setLinger", (c) => c.setLinger(0)],
  ["setReadBuffer", (c) => c.setReadBuffer(65_536)],
  ["setWriteBuffer", (c) => c.setWriteBuffer(65_536)],
  ["socketOptions", (c) => c.socketOptions()],
];

Deno.test("conn options: every setter and socketOptions on a closed conn throw ClosedError", async () => {
  await using p = await pair();
  p.client.close();
  await p.server[Symbol.asyncDispose]();
  for (const conn of [p.client, p.server]) {
    for (
      const [name, call] of [...SETTERS, [
        "setReadBuffer(-1)",
        (c: Conn) => c.setReadBuffer(-1),
      ]] as const
    ) {
      const err = assertThrows(() => call(conn));
      assert.ok(err instanceof ClosedError, `${name}: ${String(err)}`);
      assert.equal(err.op, "set", name);
      assert.match(err.message, /use of closed network connection/, name);
    }
  }
});

Deno.test("conn options: bad values are RangeError or TypeError, and change nothing", async () => {
  await using p = await pair();
  const conn = p.client;
  const cases: [string, () => unknown, typeof RangeError | typeof TypeError, RegExp][] = [
    ["period -1", () => conn.setKeepAlivePeriod(-1), RangeError, /Keepalive period.*"-1"/],
    ["period NaN", () => conn.setKeepAlivePeriod(NaN), RangeError, /finite.*"NaN"/],
    ["period Infinity", () => conn.setKeepAlivePeriod(Infinity), RangeError, /"Infinity"/],
    ["period '1000'", () => conn.setKeepAlivePeriod("1000" as never), TypeError, /number/],
    ["period beyond the OS", () => conn.setKeepAlivePeriod(1e12), RangeError, /period/],
    ["config null", () => conn.setKeepAliveConfig(null as never), TypeError, /object/],
    ["config idle NaN", () => conn.setKeepAliveConfig({ idle: NaN }), RangeError, /idle/],
    [
      "config interval Infinity",
      () => conn.setKeepAliveConfig({ interval: Infinity }),
      RangeError,
      /interval/,
    ],
    ["config count 1.5", () => conn.setKeepAliveConfig({ count: 1.5 }), RangeError, /count.*"1.5"/],
    ["config count NaN", () => conn.setKeepAliveConfig({ count: NaN }), RangeError, /count/],
    ["config enable 1", () => conn.setKeepAliveConfig({ enable: 1 as never }), TypeError, /enable/],
    ["linger 1.5", () => conn.setLinger(1.5), RangeError, /Linger.*"1.5"/],
    ["linger NaN", () => conn.setLinger(NaN), RangeError, /Linger.*"NaN"/],
    ["linger -Infinity", () => conn.setLinger(-Infinity), RangeError, /Linger/],
    ["linger 2^31", () => conn.setLinger(2 ** 31), RangeError, /Linger/],
    ["linger '5'", () => conn.setLinger("5" as never), TypeError, /Linger/],
    ["read buffer -1", () => conn.setReadBuffer(-1), RangeError, /Read buffer size.*"-1"/],
    ["read buffer 1.5", () => conn.setReadBuffer(1.5), RangeError, /Read buffer size.*"1.5"/],
    ["read buffer NaN", () => conn.setReadBuffer(NaN), RangeError, /Read buffer size/],
    ["read buffer Infinity", () => conn.setReadBuffer(Infinity), RangeError, /Read buffer/],
    ["write buffer -4096", () => conn.setWriteBuffer(-4096), RangeError, /Write buffer size/],
    ["write buffer 2^31", () => conn.setWriteBuffer(2 ** 31), RangeError, /Write buffer size/],
    ["write buffer '4096'", () => conn.setWriteBuffer("4096" as never), TypeError, /Write buffer/],
  ];
  const before = conn.socketOptions();
  for (const [name, call, type, message] of cases) {
    const err = assertThrows(call);
    assert.ok(err instanceof type, `${name}: ${String(err)}`);
    assert.match((err as Error).message, message, name);
  }
  assert.deepEqual(conn.socketOptions(), before, "a rejected value changes nothing");

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

// ---- other permissions and flags, in a subprocess -------------------------------

/** A child run of tests/_conn_options_child.ts; its stdin ends when `finish` is called. */
interface Child {
  /** The JSON line the child printed. */
  result: Record<string, unknown>;
  /** Ends the child's stdin and waits for it to exit. */
  finish(): Promise<{ code: number; stderr: string }>;
}

async function runChild(flags: string[], mode: string): Promise<Child> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...flags, CHILD, mode],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const stdin = child.stdin.getWriter();
  const finish = async (): Promise<{ code: number; stderr: string }> => {
    await stdin.close().catch(() => {});
    const { code } = await child.status;
    return { code, stderr: await stderr };
  };
  try {
    const line = await mustSettle(
      new Response(firstLine(child.stdout)).text(),
      20_000,
      "the child",
    );
    if (line.length === 0) assert.fail(`the child printed nothing: ${(await finish()).stderr}`);
    return { result: JSON.parse(line), finish };
  } catch (e) {
    child.kill();
    await finish();
    throw e;
  }
}

/** The stream up to its first newline; the rest is read and dropped. */
function firstLine(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  let done = false;
  return stream.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        if (done) return;
        const end = chunk.indexOf(10);
        controller.enqueue(end < 0 ? chunk : chunk.subarray(0, end));
        if (end >= 0) {
          done = true;
          controller.terminate();
        }
      },
    }),
  );
}

interface Outcome {
  name: string;
  kind: unknown;
  message: string;
}

/** The keepalive timer of the TCP socket from `local` to `remote` on 127.0.0.1, from /proc/net/tcp. */
function keepAliveTimer(local: number, remote: number): { kind: number; seconds: number } {
  const lib = libc("keepAliveTimer");
  const encoder = new TextEncoder();
  const file = lib.sym.fopen(encoder.encode("/proc/net/tcp\0"), encoder.encode("r\0"));
  assert.ok(file !== null, "cannot open /proc/net/tcp");
  const hex = (port: number): string =>
    `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  try {
    const line = new Uint8Array(512);
    while (lib.sym.fgets(line, line.length, file) !== null) {
      // sl local rem st tx:rx tr:when ...; tr 2 is the keepalive timer, when is in 1/100 s.
      const fields = new TextDecoder().decode(line.subarray(0, line.indexOf(0))).trim().split(
        /\s+/,
      );
      // st 01: established (a closed conn of the same ports may linger in TIME_WAIT).
      if (fields[1] !== hex(local) || fields[2] !== hex(remote) || fields[3] !== "01") continue;
      const [tr, when] = fields[5]!.split(":");
      return { kind: parseInt(tr!, 16), seconds: parseInt(when!, 16) / 100 };
    }
  } finally {
    lib.sym.fclose(file);
  }
  return assert.fail(`no established socket ${local} -> ${remote} in /proc/net/tcp`);
}

Deno.test("conn options: without --allow-ffi the FFI setters throw NotSupportedError; plain dial and listen work, keepalive on", async () => {
  const child = await runChild(["--allow-net"], "no-ffi");
  let finished = false;
  try {
    const r = child.result as {
      supported: boolean;
      setters: Record<string, Outcome>;
      plain: Record<string, unknown>;
      dialPeriod: Outcome;
      listenPeriod: Outcome;
      echoed: string;
      client: { local: number; remote: number };
      server: { local: number; remote: number };
    };
    assert.equal(r.supported, false);
    assert.equal(Object.keys(r.setters).length, 6);
    for (const [name, e] of Object.entries(r.setters)) {
      assert.equal(e.name, "NotSupportedError", `${name}: ${JSON.stringify(e)}`);
      assert.equal(e.kind, "not-supported", name);
      assert.match(e.message, /--allow-ffi/, name);
    }
    assert.deepEqual(r.plain, { setNoDelay: "no error", setKeepAlive: "no error" });
    for (const [name, e] of [["dial", r.dialPeriod], ["listen", r.listenPeriod]] as const) {
      assert.equal(e.name, "NotSupportedError", `${name} with a keepalive period`);
      assert.match(e.message, /--allow-ffi/, name);
    }
    assert.equal(r.echoed, "hello", "plain dial and listen carry data");
    if (LINUX) {
      // Keepalive is on with the OS's timing (Linux: tcp_keepalive_time), not Go's 15 s.
      const osIdle = procNumber("/proc/sys/net/ipv4/tcp_keepalive_time");
      for (const [side, s] of [["dialed", r.client], ["accepted", r.server]] as const) {
        const timer = keepAliveTimer(s.local, s.remote);
        assert.equal(timer.kind, 2, `${side}: the keepalive timer runs`);
        assert.ok(timer.seconds > 15 && timer.seconds <= osIdle, `${side}: ${timer.seconds} s`);
      }
    }
    const { code, stderr } = await child.finish();
    finished = true;
    assert.equal(code, 0, stderr);
  } finally {
    if (!finished) await child.finish();
  }
});

Deno.test("conn options: reusePort in a subprocess: NotSupportedError without --unstable-net, a shared port with it", async () => {
  const without = await runChild(["--allow-net"], "reuse-port");
  const exited = await without.finish();
  assert.equal(exited.code, 0, `the process lives on: ${exited.stderr}`);
  const error = without.result.error as Outcome;
  assert.equal(error.name, "NotSupportedError");
  assert.match(error.message, /--unstable-net/);

  const withFlag = await runChild(["--allow-net", "--unstable-net"], "reuse-port");
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
