// Tests for sockopt/options.ts, the one place where the options' effects
// are tested (Conn's setters only forward to these functions; their tests,
// in tests/conn_options_test.ts, check that they change exactly what these
// do): every option set and read back with getsockopt, what the options do
// (reset on close, write-block threshold, backlog), bad values, the fd lookup
// at scale, and runs without --allow-ffi / --unstable-net in a subprocess
// (tests/_child.ts).
//
// Run: deno test --allow-net --allow-ffi --allow-read --allow-run --allow-env tests/sockopt/options_test.ts

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
import { getInt, ip16Text, libc, sockAddrText } from "../../_sys/libc.ts";
import { fdIndex, releaseFd } from "../../_sys/fd.ts";
import { checkReusePort, maxListenerBacklog } from "../../_sys/listen.ts";
import { connKey, parseIp } from "../../_sys/name.ts";
import { fillUntilBlocked, ipv6Available, procNumber } from "../_helpers.ts";
import { mustSettle } from "../../_kit/wait.ts";
import { type RawPair, rawPair } from "../../_kit/loopback.ts";
import { runDeno } from "../../_kit/child.ts";
import type { Outcome } from "../_child.ts";
import { BAD_VALUES, type BadValue, sockoptSetters } from "./_bad_values.ts";

const LINUX = Deno.build.os === "linux";
const HOSTS = ["127.0.0.1", ...(ipv6Available() ? ["::1"] : [])];
const KiB = 1024;
const CHUNK = 64 * KiB; // fillUntilBlocked's writes
const CHILD = new URL("../_child.ts", import.meta.url);

// ---- set, then read back ---------------------------------------------------

for (const host of HOSTS) {
  Deno.test(`sockopt: keepalive period is set and read back (${host})`, async () => {
    using pair = await rawPair({ hostname: host });
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
    using pair = await rawPair({ hostname: host });
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
    setKeepAliveConfig(fd, { enable: true, idle: -1, interval: 0, count: -1 });
    assert.deepEqual(raw(), [1, 7, 15, 3], "a zero field takes Go's default, a negative one stays");
    setKeepAliveConfig(fd, {});
    assert.deepEqual(raw(), [0, 15, 15, 9], "an empty config is Go's zero value: off");
    const o = socketOptions(fd);
    assert.deepEqual(
      [o.keepAlive, o.keepAliveIdle, o.keepAliveInterval, o.keepAliveCount],
      [false, 15_000, 15_000, 9],
    );
  });

  Deno.test(`sockopt: linger is set and read back (${host})`, async () => {
    using pair = await rawPair({ hostname: host });
    const fd = connFd(pair.client);
    assert.equal(socketOptions(fd).linger, -1, "off by default");
    for (const [sec, expected] of [[0, 0], [5, 5], [-1, -1], [3, 3], [-7, -1]]) {
      setLinger(fd, sec!);
      assert.equal(socketOptions(fd).linger, expected, `after setLinger(${sec})`);
    }
  });

  Deno.test(`sockopt: buffer sizes are set and read back (${host})`, async () => {
    using pair = await rawPair({ hostname: host });
    const fd = connFd(pair.client);
    const factor = LINUX ? 2 : 1; // Linux doubles what it is given
    setReadBuffer(fd, 65_536);
    setWriteBuffer(fd, 32_768);
    assert.equal(socketOptions(fd).readBuffer, 65_536 * factor);
    assert.equal(socketOptions(fd).writeBuffer, 32_768 * factor);
    if (LINUX) {
      const wmemMax = await procNumber("/proc/sys/net/core/wmem_max");
      const rmemMax = await procNumber("/proc/sys/net/core/rmem_max");
      setWriteBuffer(fd, 2 ** 30);
      assert.equal(socketOptions(fd).writeBuffer, 2 * wmemMax, "clamped to wmem_max, doubled");
      setReadBuffer(fd, 2 ** 31 - 1);
      assert.equal(socketOptions(fd).readBuffer, 2 * rmemMax, "clamped to rmem_max, doubled");
      setReadBuffer(fd, 0);
      const min = socketOptions(fd).readBuffer;
      assert.ok(min > 0 && min < 8192, `a floor, not 0: ${min}`);
    }
  });

  Deno.test(`sockopt: read-back agrees with Deno's own setters (${host})`, async () => {
    using pair = await rawPair({ hostname: host });
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
  using pair = await rawPair();
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

/** Reads `conn` to the end: the byte count, and null at EOF or the error. */
async function readToEnd(conn: Deno.Conn): Promise<{ read: number; end: unknown }> {
  const buf = new Uint8Array(256 * KiB);
  let read = 0;
  try {
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) read += n;
    return { read, end: null };
  } catch (e) {
    return { read, end: e };
  }
}

/** Closes the client of `p`, which filled the pipe; returns all the bytes the OS took. */
async function closeFilled(p: RawPair, filled: { accepted: number; blocked: Promise<number> }) {
  p.client.close();
  return filled.accepted + await filled.blocked.catch(() => 0); // closing ends the blocked write
}

// Deno shuts the write half down (FIN) before it closes the fd, so linger 0
// shows only when data is still unsent at close: then the close discards it
// and sends RST instead of the rest of the stream.
Deno.test("sockopt: linger 0 discards unsent data and resets; the default delivers all", async (t) => {
  await t.step("linger 0: part of the data, then a reset", async () => {
    using p = await rawPair();
    setLinger(p.client, 0);
    const written = await closeFilled(p, await fillUntilBlocked(p.client));
    const { read, end } = await mustSettle(readToEnd(p.server), 10_000, "the peer's reads");
    assert.ok(end instanceof Deno.errors.ConnectionReset, `linger 0 ends in ${String(end)}`);
    assert.ok(read < written, `unsent data is discarded: read ${read} of ${written}`);
  });
  await t.step("the default: every accepted byte, then EOF", async () => {
    using p = await rawPair();
    assert.equal(socketOptions(p.client).linger, -1);
    const written = await closeFilled(p, await fillUntilBlocked(p.client));
    const { read, end } = await mustSettle(readToEnd(p.server), 10_000, "the peer's reads");
    assert.equal(end, null, "the default ends in EOF");
    assert.equal(read, written, "the default delivers every accepted byte");
  });
});

/** Buffer sizes set before a write-block threshold is measured. */
interface Sizes {
  /** SO_SNDBUF of the dialed conn. */
  send?: number;
  /** SO_RCVBUF of the listener, before the dial: the accepted conn inherits it. */
  listener?: number;
  /** SO_RCVBUF of the accepted conn, before any data flows. */
  accepted?: number;
}

/** Bytes a write loop gets accepted before a write blocks, and the kernel's buffer sizes then. */
async function threshold(sizes: Sizes): Promise<{ bytes: number; sndbuf: number; rcvbuf: number }> {
  using p = await rawPair({
    onListen: (ln) => sizes.listener !== undefined && setReadBuffer(ln, sizes.listener),
  });
  if (sizes.send !== undefined) setWriteBuffer(p.client, sizes.send);
  if (sizes.accepted !== undefined) setReadBuffer(p.server, sizes.accepted);
  const filled = await fillUntilBlocked(p.client);
  const sndbuf = socketOptions(p.client).writeBuffer;
  const rcvbuf = socketOptions(p.server).readBuffer;
  return { bytes: await closeFilled(p, filled), sndbuf, rcvbuf };
}

Deno.test("sockopt: small SO_SNDBUF and SO_RCVBUF shrink the write-block threshold", async () => {
  const normal = await threshold({});
  const smallSend = await threshold({ send: 16 * KiB });
  const smallBoth = await threshold({ send: 16 * KiB, listener: 16 * KiB });
  const smallAccepted = await threshold({ send: 16 * KiB, accepted: 16 * KiB });
  console.log(
    `write-block threshold: default ${normal.bytes} B, SO_SNDBUF 16 KiB ${smallSend.bytes} B, ` +
      `both 16 KiB ${smallBoth.bytes} B (on the accepted conn: ${smallAccepted.bytes} B)`,
  );
  const all = { normal, smallSend, smallBoth, smallAccepted };
  for (const [name, { bytes, sndbuf, rcvbuf }] of Object.entries(all)) {
    // What the kernel holds is bounded by the sizes it reports (which include its overhead).
    assert.ok(
      bytes > 0 && bytes <= sndbuf + rcvbuf + CHUNK,
      `${name}: ${bytes} vs ${sndbuf} + ${rcvbuf}`,
    );
  }
  assert.ok(smallSend.bytes < normal.bytes / 4, `${smallSend.bytes} vs ${normal.bytes}`);
  assert.ok(smallBoth.bytes < smallSend.bytes, `${smallBoth.bytes} vs ${smallSend.bytes}`);
  assert.ok(smallBoth.bytes <= 4 * 2 * 32 * KiB, `${smallBoth.bytes}`);
  assert.ok(smallAccepted.bytes < normal.bytes / 4, `${smallAccepted.bytes} vs ${normal.bytes}`);
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
    assert.equal(backlog, await procNumber("/proc/sys/net/core/somaxconn"));
  } else {
    assert.ok(backlog > 0);
  }
});

// ---- bad values ------------------------------------------------------------

Deno.test("sockopt: bad values get clear errors and change nothing", async () => {
  using pair = await rawPair();
  const fd = connFd(pair.client);
  const cases: BadValue[] = [
    ...BAD_VALUES,
    ["negative fd", () => socketOptions(-1), RangeError, /the number -1/],
    ["fractional fd", () => setLinger(0.5, 0), RangeError, /the number 0.5/],
  ];
  for (const [name, call, type, message] of cases) {
    const before = socketOptions(fd);
    assert.throws(() => call(sockoptSetters(fd)), (error: unknown) => {
      assert.ok(error instanceof type, `${name}: ${String(error)}`);
      assert.match(error.message, message, name);
      assert.match(error.message, /^[A-Z]/, `${name}: sentence case`);
      assert.doesNotMatch(error.message, /\.$/, `${name}: no trailing period`);
      // A value the OS rejects may come after others were set, as in Go.
      if (!error.message.includes("for this OS")) {
        assert.deepEqual(socketOptions(fd), before, `${name}: a rejected value changes nothing`);
      }
      return true;
    });
  }
});

Deno.test("sockopt: options take a conn, a listener or an fd", async () => {
  using pair = await rawPair();
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
  using pair = await rawPair();
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
  const pairs: RawPair[] = [];
  const lib = libc("test");
  try {
    const hosts = [...HOSTS, "::"]; // "::" takes v4 clients: v4-mapped local addresses
    for (let i = 0; i < 300; i++) {
      const host = hosts[i % hosts.length]!;
      pairs.push(await rawPair({ hostname: host, dialHost: host === "::" ? "127.0.0.1" : host }));
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
  const pairs: RawPair[] = [];
  try {
    for (let i = 0; i < 200; i++) pairs.push(await rawPair());
    for (const p of pairs) { // index them all
      connFd(p.client);
      connFd(p.server);
    }
    const before = fdIndex.stats;
    for (let i = 0; i < 50; i++) {
      const p = await rawPair();
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
      pairs[k] = await rawPair();
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

Deno.test("sockopt: without --allow-ffi every option throws NotSupportedError", async () => {
  await using child = await runDeno(["--allow-net"], CHILD, "sockopt-no-ffi");
  const result = child.result as {
    errors: Record<string, Outcome>;
    supported: boolean;
    backlog: number;
  };
  assert.equal(result.supported, false);
  assert.equal(result.backlog, LINUX ? 4096 : maxListenerBacklog(), "no --allow-read: fallback");
  assert.equal(Object.keys(result.errors).length, 8);
  for (const [name, error] of Object.entries(result.errors)) {
    assert.ok(error !== "no error", name);
    assert.equal(error.name, "NotSupportedError", `${name}: ${JSON.stringify(error)}`);
    assert.equal(error.kind, "not-supported");
    assert.ok(error.message.includes("--allow-ffi"), error.message);
    assert.ok(error.message.includes(name), error.message);
  }
  const { code, stderr } = await child.finish();
  assert.equal(code, 0, stderr);
});

Deno.test("sockopt: checkReusePort agrees with whether Deno.listen survives reusePort", async () => {
  await using without = await runDeno(["--allow-net"], CHILD, "check-reuse-port");
  const error = without.result.listened as Outcome;
  assert.ok(error !== "no error", "without --unstable-net");
  assert.equal(error.name, "NotSupportedError");
  assert.ok(error.message.includes("--unstable-net"));
  await using withFlag = await runDeno(
    ["--allow-net", "--unstable-net"],
    CHILD,
    "check-reuse-port",
  );
  assert.deepEqual(withFlag.result, { listened: "no error" });
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
