// Tests for sockopt/options.ts: every option set and read back with getsockopt, the
// effects that make the options matter (reset on close, write-block
// threshold, backlog), bad values, the fd lookup at scale, and runs without
// --allow-ffi / --unstable-net in a subprocess.
//
// Run: deno test --allow-net --allow-ffi --allow-read --allow-run --allow-env tests/sockopt_test.ts

import assert from "node:assert/strict";
import { ClosedError, NetError, NotSupportedError } from "../../errors.ts";
import {
  connFd,
  listenerFd,
  setKeepAliveConfig,
  setKeepAlivePeriod,
  setLinger,
  setReadBuffer,
  setWriteBuffer,
  socketOptions,
  sockoptSupported,
} from "../../sockopt/mod.ts";
import { getInt, libc, sockAddrText } from "../../sockopt/_libc.ts";
import { fdIndex, releaseFd } from "../../sockopt/_fd.ts";
import { checkReusePort, maxListenerBacklog } from "../../sockopt/_listen.ts";
import { connKey, parseIp } from "../../sockopt/_name.ts";
import { ip16Text } from "../../sockopt/_libc.ts";

const LINUX = Deno.build.os === "linux";
const HOSTS = ["127.0.0.1", ...(ipv6Available() ? ["::1"] : [])];

function ipv6Available(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

/** A listener, a dialed conn and the conn it accepted; dispose closes all three. */
class Pair {
  constructor(
    readonly ln: Deno.TcpListener,
    readonly client: Deno.TcpConn,
    readonly server: Deno.TcpConn,
  ) {}

  static async open(hostname: string, dialHost = hostname): Promise<Pair> {
    const ln = Deno.listen({ hostname, port: 0 });
    const [client, server] = await Promise.all([
      Deno.connect({ hostname: dialHost, port: ln.addr.port }),
      ln.accept(),
    ]);
    return new Pair(ln, client, server);
  }

  [Symbol.dispose](): void {
    for (const c of [this.client, this.server, this.ln]) {
      try {
        c.close();
      } catch { /* already closed by the test */ }
    }
  }
}

/** A /proc/sys value, read with cat: Deno 2.9 reads /proc/sys only under --allow-all. */
async function procValue(path: string): Promise<number> {
  const { stdout } = await new Deno.Command("cat", { args: [path], stdout: "piped" }).output();
  return Number(new TextDecoder().decode(stdout).trim());
}

const TIMEOUT = Symbol("timeout");

/** p, or TIMEOUT if it has not settled within ms; the timer is always cleared. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  let id: ReturnType<typeof setTimeout> | undefined;
  const timer = new Promise<typeof TIMEOUT>((resolve) => {
    id = setTimeout(() => resolve(TIMEOUT), ms);
  });
  try {
    return await Promise.race([p, timer]);
  } finally {
    clearTimeout(id);
  }
}

// ---- set, then read back ---------------------------------------------------

for (const host of HOSTS) {
  Deno.test(`sockopt: keepalive period is set and read back (${host})`, async () => {
    using pair = await Pair.open(host);
    const fd = connFd(pair.client);
    for (const [ms, seconds] of [[20_000, 20], [1, 1], [1_500, 2], [0, 15]] as const) {
      setKeepAlivePeriod(fd, ms);
      const options = socketOptions(fd);
      assert.equal(options.keepAliveIdle, seconds * 1000, `idle after ${ms} ms`);
      assert.equal(options.keepAliveInterval, seconds * 1000, `interval after ${ms} ms`);
    }
    assert.equal(socketOptions(fd).keepAlive, false, "the period alone does not enable");
  });

  Deno.test(`sockopt: keepalive config is visible through getsockopt (${host})`, async () => {
    using pair = await Pair.open(host);
    const fd = connFd(pair.server);
    const lib = libc("test");
    const { SOL_SOCKET, SO_KEEPALIVE, IPPROTO_TCP, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT } =
      lib.c;
    function raw(): number[] {
      return [
        getInt(lib, fd, SOL_SOCKET, SO_KEEPALIVE) !== 0 ? 1 : 0,
        getInt(lib, fd, IPPROTO_TCP, TCP_KEEPIDLE),
        getInt(lib, fd, IPPROTO_TCP, TCP_KEEPINTVL),
        getInt(lib, fd, IPPROTO_TCP, TCP_KEEPCNT),
      ];
    }
    setKeepAliveConfig(fd, { enable: true }); // Go's dial default
    assert.deepEqual(raw(), [1, 15, 15, 9]);
    setKeepAliveConfig(fd, { enable: true, idle: 7_000, interval: -1, count: 3 });
    assert.deepEqual(raw(), [1, 7, 15, 3], "a negative interval is left as it was");
    setKeepAliveConfig(fd, { enable: true, idle: -1, interval: 2_001, count: -1 });
    assert.deepEqual(raw(), [1, 7, 3, 3], "interval rounds up to whole seconds");
    setKeepAliveConfig(fd, {});
    assert.deepEqual(raw(), [0, 15, 15, 9], "an empty config is Go's zero value: off");
    const o = socketOptions(fd);
    assert.deepEqual(
      [o.keepAlive, o.keepAliveIdle, o.keepAliveInterval, o.keepAliveCount],
      [false, 15_000, 15_000, 9],
    );
  });

  Deno.test(`sockopt: linger is set and read back (${host})`, async () => {
    using pair = await Pair.open(host);
    const fd = connFd(pair.client);
    assert.equal(socketOptions(fd).linger, -1, "off by default");
    for (const [sec, expected] of [[0, 0], [5, 5], [-1, -1], [3, 3], [-7, -1]]) {
      setLinger(fd, sec!);
      assert.equal(socketOptions(fd).linger, expected, `after setLinger(${sec})`);
    }
  });

  Deno.test(`sockopt: buffer sizes are set and read back (${host})`, async () => {
    using pair = await Pair.open(host);
    const fd = connFd(pair.client);
    const factor = LINUX ? 2 : 1; // Linux doubles what it is given
    setReadBuffer(fd, 65_536);
    setWriteBuffer(fd, 32_768);
    assert.equal(socketOptions(fd).readBuffer, 65_536 * factor);
    assert.equal(socketOptions(fd).writeBuffer, 32_768 * factor);
    if (LINUX) {
      const wmemMax = await procValue("/proc/sys/net/core/wmem_max");
      setWriteBuffer(fd, 2 ** 30);
      assert.equal(socketOptions(fd).writeBuffer, 2 * wmemMax, "clamped to wmem_max, doubled");
      setReadBuffer(fd, 0);
      const min = socketOptions(fd).readBuffer;
      assert.ok(min > 0 && min < 8192, `a floor, not 0: ${min}`);
    }
  });

  Deno.test(`sockopt: read-back agrees with Deno's own setters (${host})`, async () => {
    using pair = await Pair.open(host);
    const fd = connFd(pair.client);
    const before = socketOptions(fd);
    assert.equal(before.noDelay, false, "Deno leaves Nagle on (Go turns it off)");
    assert.equal(before.keepAlive, false);
    pair.client.setNoDelay(true);
    pair.client.setKeepAlive(true);
    const after = socketOptions(fd);
    assert.equal(after.noDelay, true);
    assert.equal(after.keepAlive, true);
  });
}

Deno.test("sockopt: a listener's fd is listening and its options read back", async () => {
  using pair = await Pair.open("127.0.0.1");
  const lib = libc("test");
  const fd = listenerFd(pair.ln);
  assert.equal(getInt(lib, fd, lib.c.SOL_SOCKET, lib.c.SO_ACCEPTCONN), 1);
  assert.equal(sockAddrText(lib, fd, "getsockname"), `127.0.0.1:${pair.ln.addr.port}`);
  // The listener and the conn it accepted share the local address, not the fd.
  assert.notEqual(connFd(pair.server), fd);
  setReadBuffer(fd, 16_384);
  assert.equal(socketOptions(fd).readBuffer, 16_384 * (LINUX ? 2 : 1));
});

// ---- what the options do ---------------------------------------------------

// Deno shuts the write half down (FIN) before it closes the fd, so linger 0
// shows only when data is still unsent at close: then the close discards it
// and sends RST instead of the rest of the stream.
Deno.test("sockopt: linger 0 discards unsent data and resets; the default delivers all", async () => {
  for (const linger of [0, -1]) {
    const { pair, written } = await pairWithFullPipe((conn) => setLinger(connFd(conn), linger));
    using _ = pair;
    let read = 0;
    let end: unknown = null;
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await within(pair.server.read(buf).catch((e: unknown) => e), 10_000);
      if (n === TIMEOUT) throw new Error(`read hangs after ${read} bytes`);
      if (typeof n !== "number") {
        end = n;
        break;
      }
      read += n;
    }
    if (linger === 0) {
      assert.ok(end instanceof Deno.errors.ConnectionReset, `linger 0 ends in ${String(end)}`);
      assert.ok(read < written, `unsent data is discarded: read ${read} of ${written}`);
    } else {
      assert.equal(end, null, "the default ends in EOF");
      assert.equal(read, written, "the default delivers every accepted byte");
    }
  }
});

/** A pair whose client wrote until a write stayed pending, then closed. */
async function pairWithFullPipe(
  setup: (client: Deno.TcpConn) => void,
): Promise<{ pair: Pair; written: number }> {
  const pair = await Pair.open("127.0.0.1");
  setup(pair.client);
  const { total, pending } = await writeUntilBlocked(pair.client);
  pair.client.close();
  await pending.catch(() => {}); // closing ends the stranded write, which wrote nothing
  return { pair, written: total };
}

/**
 * Writes 64 KiB chunks with a raw `conn.write` until one stays pending (the
 * peer never reads). A write is pending when it has not returned within
 * `wait` and then not within MUST_NOT_RETURN more; one that returns late
 * grows `wait` by 5/4, so a slow machine is not taken for a full buffer.
 * Returns the bytes accepted before it and the pending write.
 */
async function writeUntilBlocked(
  conn: Deno.TcpConn,
): Promise<{ total: number; pending: Promise<number> }> {
  const MUST_NOT_RETURN = 300;
  const chunk = new Uint8Array(64 * 1024);
  let total = 0;
  let wait = 10;
  for (;;) {
    const write = conn.write(chunk);
    let n = await within(write, wait);
    if (n === TIMEOUT) {
      n = await within(write, MUST_NOT_RETURN);
      if (n === TIMEOUT) return { total, pending: write };
      wait = Math.ceil(wait * 5 / 4); // it returned late: a slow machine, not a full buffer
    }
    total += n;
    assert.ok(total < 64 * 2 ** 20, "a write must block before 64 MiB");
  }
}

/** The write-block threshold with these SO_SNDBUF (sender) and SO_RCVBUF (receiver) sizes. */
async function writeBlockThreshold(snd?: number, rcv?: number): Promise<number> {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  if (rcv !== undefined) setReadBuffer(listenerFd(ln), rcv); // inherited by accepted conns
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: ln.addr.port }),
    ln.accept(),
  ]);
  using _ = new Pair(ln, client, server);
  if (snd !== undefined) setWriteBuffer(connFd(client), snd);
  const { total, pending } = await writeUntilBlocked(client);
  client.close();
  await pending.catch(() => {});
  return total;
}

Deno.test("sockopt: small SO_SNDBUF and SO_RCVBUF shrink the write-block threshold", async () => {
  const normal = await writeBlockThreshold();
  const smallSend = await writeBlockThreshold(16_384);
  const smallBoth = await writeBlockThreshold(16_384, 16_384);
  console.log(
    `write-block threshold: default ${normal} B, SO_SNDBUF 16 KiB ${smallSend} B, ` +
      `both 16 KiB ${smallBoth} B`,
  );
  assert.ok(smallSend < normal / 4, `${smallSend} vs ${normal}`);
  assert.ok(smallBoth < smallSend, `${smallBoth} vs ${smallSend}`);
  assert.ok(smallBoth > 0 && smallBoth <= 4 * 2 * 32_768, `${smallBoth}`);
});

Deno.test("sockopt: listen backlog n lets about n+1 connects complete, then they hang", async () => {
  const n = 4;
  using ln = Deno.listen({ hostname: "127.0.0.1", port: 0, tcpBacklog: n });
  const conns: Deno.TcpConn[] = [];
  try {
    let hung = 0;
    for (let i = 0; i < n + 4 && hung === 0; i++) {
      try {
        conns.push(
          await Deno.connect({
            hostname: "127.0.0.1",
            port: ln.addr.port,
            signal: AbortSignal.timeout(conns.length < n ? 5_000 : 300),
          }),
        );
      } catch (error) {
        assert.ok(!(error instanceof Deno.errors.ConnectionRefused), String(error));
        hung++;
      }
    }
    console.log(`backlog ${n}: ${conns.length} connects completed, the next hung`);
    assert.equal(hung, 1, "a connect beyond the backlog must hang");
    assert.ok(conns.length >= n && conns.length <= n + 2, `${conns.length} completed`);
  } finally {
    for (const c of conns) c.close();
  }
});

Deno.test("sockopt: maxListenerBacklog reads somaxconn", async () => {
  const backlog = maxListenerBacklog();
  if (LINUX) {
    assert.equal(backlog, await procValue("/proc/sys/net/core/somaxconn"));
  } else {
    assert.ok(backlog > 0);
  }
});

// ---- bad values ------------------------------------------------------------

Deno.test("sockopt: bad values get clear errors", async () => {
  using pair = await Pair.open("127.0.0.1");
  const fd = connFd(pair.client);
  function bad<T>(x: unknown): T {
    return x as T;
  }
  const cases: [string, () => void, ErrorConstructor, string][] = [
    ["negative size", () => setReadBuffer(fd, -1), RangeError, '"-1"'],
    ["NaN size", () => setWriteBuffer(fd, NaN), RangeError, '"NaN"'],
    ["fractional size", () => setWriteBuffer(fd, 1.5), RangeError, '"1.5"'],
    ["huge size", () => setReadBuffer(fd, 2 ** 31), RangeError, '"2147483648"'],
    ["string size", () => setReadBuffer(fd, bad("4096")), TypeError, '"4096"'],
    ["negative period", () => setKeepAlivePeriod(fd, -1), RangeError, '"-1"'],
    ["NaN period", () => setKeepAlivePeriod(fd, NaN), RangeError, '"NaN"'],
    ["infinite period", () => setKeepAlivePeriod(fd, Infinity), RangeError, '"Infinity"'],
    ["period beyond the OS", () => setKeepAlivePeriod(fd, 4e7), RangeError, "out of range"],
    ["fractional linger", () => setLinger(fd, 0.5), RangeError, '"0.5"'],
    ["NaN linger", () => setLinger(fd, NaN), RangeError, '"NaN"'],
    ["null config", () => setKeepAliveConfig(fd, bad(null)), TypeError, '"null"'],
    ["string enable", () => setKeepAliveConfig(fd, { enable: bad("yes") }), TypeError, '"yes"'],
    ["NaN idle", () => setKeepAliveConfig(fd, { idle: NaN }), RangeError, '"NaN"'],
    ["fractional count", () => setKeepAliveConfig(fd, { count: 1.5 }), RangeError, '"1.5"'],
    ["count beyond the OS", () => setKeepAliveConfig(fd, { count: 1000 }), RangeError, "out of"],
    ["negative fd", () => socketOptions(-1), RangeError, '"-1"'],
    ["fractional fd", () => setLinger(0.5, 0), RangeError, '"0.5"'],
  ];
  for (const [name, run, type, detail] of cases) {
    assert.throws(run, (error: unknown) => {
      assert.ok(error instanceof type, `${name}: ${String(error)}`);
      assert.ok(error.message.includes(detail), `${name}: ${error.message}`);
      assert.match(error.message, /^[A-Z]/, `${name}: sentence case`);
      assert.doesNotMatch(error.message, /\.$/, `${name}: no trailing period`);
      return true;
    });
  }
  const options = socketOptions(fd);
  assert.equal(options.linger, -1, "a rejected value changes nothing");
  assert.equal(options.keepAlive, false);
});

Deno.test("sockopt: options take a conn, a listener or an fd", async () => {
  using pair = await Pair.open("127.0.0.1");
  setLinger(pair.client, 4);
  assert.equal(socketOptions(connFd(pair.client)).linger, 4);
  assert.equal(socketOptions(pair.client).linger, 4);
  setKeepAliveConfig(pair.server, { enable: true, idle: 9_000 });
  assert.equal(socketOptions(connFd(pair.server)).keepAliveIdle, 9_000);
  setReadBuffer(pair.ln, 8_192);
  assert.equal(socketOptions(listenerFd(pair.ln)).readBuffer, 8_192 * (LINUX ? 2 : 1));
  pair.client.close();
  assert.throws(() => setLinger(pair.client, 0), ClosedError);
  assert.throws(() => socketOptions(pair.client), ClosedError);
});

Deno.test("sockopt: a closed conn or fd gives ClosedError", async () => {
  using pair = await Pair.open("127.0.0.1");
  const fd = connFd(pair.client);
  pair.client.close();
  assert.throws(() => connFd(pair.client), ClosedError);
  assert.throws(() => setLinger(fd, 0), ClosedError); // nothing reused fd yet
  assert.throws(() => socketOptions(fd), ClosedError);
  releaseFd(pair.client);
  pair.ln.close();
  assert.throws(() => listenerFd(pair.ln), ClosedError);
});

// ---- finding fds -----------------------------------------------------------

Deno.test("sockopt: fd lookup finds the right fd among hundreds of conns", async () => {
  const pairs: Pair[] = [];
  const lib = libc("test");
  try {
    const hosts = [...HOSTS, "::"]; // "::" takes v4 clients: v4-mapped local addresses
    for (let i = 0; i < 300; i++) {
      const host = hosts[i % hosts.length]!;
      pairs.push(await Pair.open(host, host === "::" ? "127.0.0.1" : host));
    }
    const seen = new Set<number>();
    for (const { ln, client, server } of pairs) {
      for (const conn of [client, server]) {
        const fd = connFd(conn);
        assert.ok(!seen.has(fd), `fd ${fd} returned twice`);
        seen.add(fd);
        const local = sockAddrText(lib, fd, "getsockname") as string;
        const peer = sockAddrText(lib, fd, "getpeername") as string;
        assert.equal(local.replace(/^.*:/, ""), String(conn.localAddr.port));
        assert.equal(peer.replace(/^.*:/, ""), String(conn.remoteAddr.port));
      }
      const fd = listenerFd(ln);
      assert.ok(!seen.has(fd));
      seen.add(fd);
      assert.equal(getInt(lib, fd, lib.c.SOL_SOCKET, lib.c.SO_ACCEPTCONN), 1);
    }
    // The peer's view agrees: the client's peer port is the listener's.
    const last = pairs.at(-1)!;
    const peer = sockAddrText(lib, connFd(last.client), "getpeername") as string;
    assert.ok(peer.endsWith(`:${last.ln.addr.port}`));
  } finally {
    for (const p of pairs) p[Symbol.dispose]();
  }
});

Deno.test("sockopt: fd lookup is amortised O(1): new and churned conns need no scan", async () => {
  const pairs: Pair[] = [];
  try {
    for (let i = 0; i < 200; i++) pairs.push(await Pair.open("127.0.0.1"));
    for (const p of pairs) { // index them all
      connFd(p.client);
      connFd(p.server);
    }
    const before = fdIndex.stats;
    for (let i = 0; i < 50; i++) {
      const p = await Pair.open("127.0.0.1");
      pairs.push(p);
      connFd(p.client);
      connFd(p.server);
      listenerFd(p.ln);
    }
    for (let i = 0; i < 50; i++) { // close a conn, release it, open another
      const k = (i * 37) % pairs.length;
      pairs[k]![Symbol.dispose]();
      releaseFd(pairs[k]!.client);
      releaseFd(pairs[k]!.server);
      releaseFd(pairs[k]!.ln);
      pairs[k] = await Pair.open("127.0.0.1");
      connFd(pairs[k]!.client);
      connFd(pairs[k]!.server);
    }
    const after = fdIndex.stats;
    const lookups = after.lookups - before.lookups;
    assert.equal(after.scans, before.scans, "no full scan");
    assert.ok((after.probes - before.probes) / lookups < 3, `${after.probes - before.probes}`);
  } finally {
    for (const p of pairs) p[Symbol.dispose]();
  }
});

Deno.test("sockopt: addresses compare in one canonical form", () => {
  const cases: [string, string | null][] = [
    ["127.0.0.1", "127.0.0.1"],
    ["::ffff:127.0.0.1", "127.0.0.1"],
    ["::ffff:7f00:1", "127.0.0.1"],
    ["::FFFF:127.0.0.1", "127.0.0.1"],
    ["::1", "[0:0:0:0:0:0:0:1]"],
    ["0:0:0:0:0:0:0:1", "[0:0:0:0:0:0:0:1]"],
    ["[::1]", "[0:0:0:0:0:0:0:1]"],
    ["::", "[0:0:0:0:0:0:0:0]"],
    ["fe80::1%eth0", "[fe80:0:0:0:0:0:0:1]"],
    ["2001:db8::8:800:200c:417a", "[2001:db8:0:0:8:800:200c:417a]"],
    ["1.2.3.256", null],
    [":::", null],
    ["1::2::3", null],
    ["12345::", null],
    ["1:2:3:4:5:6:7:8:9", null],
    ["localhost", null],
  ];
  for (const [text, canonical] of cases) {
    const ip = parseIp(text);
    assert.equal(ip === null ? null : ip16Text(ip, 0), canonical, text);
  }
  const tcp = (hostname: string, port: number) => ({ transport: "tcp" as const, hostname, port });
  assert.equal(
    connKey({ localAddr: tcp("::ffff:127.0.0.1", 1), remoteAddr: tcp("::1", 2) }),
    "127.0.0.1:1 [0:0:0:0:0:0:0:1]:2",
  );
  assert.throws(
    () => connKey({ localAddr: tcp("nowhere", 1), remoteAddr: tcp("::1", 2) }),
    TypeError,
  );
});

Deno.test("sockopt: a cached fd whose socket closed is never used for another", async () => {
  using ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const old = await Deno.connect({ hostname: "127.0.0.1", port: ln.addr.port });
  using oldPeer = await ln.accept();
  const fd = connFd(old);
  old.close(); // not released: the index still maps old's name to fd
  using next = await Deno.connect({ hostname: "127.0.0.1", port: ln.addr.port });
  using _nextPeer = await ln.accept();
  const lib = libc("test");
  const nextFd = connFd(next);
  assert.ok(nextFd <= fd, "the kernel hands out the lowest free fd");
  assert.equal(sockAddrText(lib, nextFd, "getsockname"), `127.0.0.1:${next.localAddr.port}`);
  assert.throws(() => connFd(old), ClosedError, "the old name must not resolve to fd");
  assert.equal(connFd(next), nextFd);
  assert.notEqual(connFd(oldPeer), nextFd);
});

// ---- permissions and flags, in a subprocess ---------------------------------

async function runDeno(flags: string[], script: string): Promise<Record<string, unknown>> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--no-config", ...flags, "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, `subprocess exited ${code}: ${err}`);
  return JSON.parse(new TextDecoder().decode(stdout));
}

const SOCKOPT_URL = new URL("../../sockopt/mod.ts", import.meta.url).href;
const LISTEN_URL = new URL("../../sockopt/_listen.ts", import.meta.url).href;
const FD_URL = new URL("../../sockopt/_fd.ts", import.meta.url).href;

Deno.test("sockopt: without --allow-ffi every option throws NotSupportedError", async () => {
  const result = await runDeno(
    ["--allow-net"],
    `
    import * as so from ${JSON.stringify(SOCKOPT_URL)};
    import { releaseFd } from ${JSON.stringify(FD_URL)};
    import { maxListenerBacklog } from ${JSON.stringify(LISTEN_URL)};
    const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: ln.addr.port });
    const peer = await ln.accept();
    const errors = {};
    const calls = {
      connFd: () => so.connFd(conn),
      listenerFd: () => so.listenerFd(ln),
      setKeepAlivePeriod: () => so.setKeepAlivePeriod(conn, 1000),
      setKeepAliveConfig: () => so.setKeepAliveConfig(peer, { enable: true }),
      setLinger: () => so.setLinger(conn, 0),
      setReadBuffer: () => so.setReadBuffer(ln, 4096),
      setWriteBuffer: () => so.setWriteBuffer(3, 4096),
      socketOptions: () => so.socketOptions(conn),
    };
    for (const [name, call] of Object.entries(calls)) {
      try { call(); errors[name] = "no error"; }
      catch (e) { errors[name] = { name: e.name, kind: e.kind, message: e.message }; }
    }
    releaseFd(conn);
    const out = { errors, supported: so.sockoptSupported(), backlog: maxListenerBacklog() };
    conn.close(); peer.close(); ln.close();
    console.log(JSON.stringify(out));
    `,
  );
  assert.equal(result.supported, false);
  assert.equal(result.backlog, LINUX ? 4096 : maxListenerBacklog(), "no --allow-read: fallback");
  const errors = result.errors as Record<string, { name: string; kind: string; message: string }>;
  assert.equal(Object.keys(errors).length, 8);
  for (const [name, error] of Object.entries(errors)) {
    assert.equal(error.name, "NotSupportedError", `${name}: ${JSON.stringify(error)}`);
    assert.equal(error.kind, "not-supported");
    assert.ok(error.message.includes("--allow-ffi"), error.message);
    assert.ok(error.message.includes(name), error.message);
  }
});

Deno.test("sockopt: checkReusePort agrees with whether Deno.listen survives reusePort", async () => {
  const script = `
    import { checkReusePort } from ${JSON.stringify(LISTEN_URL)};
    let result;
    try {
      checkReusePort();
      Deno.listen({ hostname: "127.0.0.1", port: 0, reusePort: true }).close();
      result = { listened: true };
    } catch (e) {
      result = { listened: false, name: e.name, message: e.message };
    }
    console.log(JSON.stringify(result));
  `;
  const without = await runDeno(["--allow-net"], script);
  assert.equal(without.listened, false);
  assert.equal(without.name, "NotSupportedError");
  assert.ok(String(without.message).includes("--unstable-net"));
  const withFlag = await runDeno(["--allow-net", "--unstable-net"], script);
  assert.deepEqual(withFlag, { listened: true });
});

Deno.test("sockopt: the in-process checks match this run's permissions and flags", () => {
  assert.equal(sockoptSupported(), true, "tests run with --allow-ffi");
  if (typeof (Deno as { listenDatagram?: unknown }).listenDatagram === "function") {
    checkReusePort();
  } else {
    assert.throws(checkReusePort, NotSupportedError);
  }
  assert.ok(new NotSupportedError("x", { op: "set" }) instanceof NetError);
});
