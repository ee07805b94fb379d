// Tests for dial.ts: the address forms a dial takes, timeout and signal (and
// how they differ), bad timeouts, and what a dial leaves behind. A dial that
// must hang is pointed at a listener whose backlog is full. Loopback only.
//
// Run: deno test --allow-net tests/dial_test.ts

import assert from "node:assert/strict";
import {
  type Conn,
  dial,
  listen,
  type Listener,
  NetError,
  type TcpConn,
  TimeoutError,
} from "../mod.ts";
import { sockoptSupported } from "../sockopt/mod.ts";
import { ipv6Available } from "./_helpers.ts";
import { mustNotSettle, mustReject, mustSettle, PENDING, within } from "../_kit/wait.ts";
import { pattern, readAtLeast } from "../_kit/bytes.ts";

/** Checks `conn` is connected to a conn of `ln`: bytes flow both ways. */
async function assertConnected(conn: TcpConn, ln: Listener): Promise<void> {
  await using peer = await mustSettle(ln.accept(), 5000, "the accept");
  assert.equal(peer.remoteAddr.port, conn.localAddr.port);
  assert.equal(conn.remoteAddr.port, ln.addr.port);
  const data = pattern(100);
  await mustSettle(conn.write(data), 5000, "a write");
  assert.deepEqual(await mustSettle(readAtLeast(peer, 100), 5000, "the peer's read"), data);
  await mustSettle(peer.write(data), 5000, "the peer's write");
  assert.deepEqual(await mustSettle(readAtLeast(conn, 100), 5000, "the read"), data);
}

Deno.test("dial: every address form reaches the listener", async (t) => {
  // ":0" listens on every interface, so each form below has someone to reach.
  await using ln = listen(":0");
  const port = ln.addr.port;
  const forms: [string, Parameters<typeof dial>[0]][] = [
    ["host:port", `127.0.0.1:${port}`],
    [":port (the local system, as in Go)", `:${port}`],
    ["localhost:port", `localhost:${port}`],
    ["{ hostname, port }", { hostname: "127.0.0.1", port }],
    ["{ port } (the local system)", { port }],
    ["a Deno.NetAddr", { transport: "tcp", hostname: "127.0.0.1", port } as Deno.NetAddr],
    ["port with leading zeros", `127.0.0.1:0${port}`],
  ];
  if (ipv6Available()) {
    forms.push(["[::1]:port", `[::1]:${port}`], ["{ hostname: '::1' }", { hostname: "::1", port }]);
  }
  for (const [name, address] of forms) {
    await t.step(name, async () => {
      await using conn = await mustSettle(dial(address), 5000, `dial ${JSON.stringify(address)}`);
      await assertConnected(conn, ln);
    });
  }
});

Deno.test("dial: a timeout that does not fire changes nothing (0 is no limit)", async () => {
  await using ln = listen("127.0.0.1:0");
  for (const timeout of [0, 60_000]) {
    await using conn = await mustSettle(dial(ln.addr, { timeout }), 5000, `timeout ${timeout}`);
    await assertConnected(conn, ln);
  }
  // The sanitizers check that no timer or op outlives the dial.
});

Deno.test("dial: bad timeouts are errors and a negative one has passed, before any network I/O", async () => {
  await using ln = listen("127.0.0.1:0");
  // deno-lint-ignore no-explicit-any
  const cases: [unknown, new (...args: any[]) => Error][] = [
    [NaN, RangeError],
    [Infinity, RangeError],
    [-Infinity, RangeError],
    ["100", TypeError],
    [null, TypeError],
    [-1, TimeoutError], // as Go: a limit already passed
    [-0.5, TimeoutError],
  ];
  for (const [timeout, type] of cases) {
    const err = await mustReject(
      dial(ln.addr, { timeout: timeout as number }),
      type,
      1000,
      `timeout ${String(timeout)}`,
    );
    if (err instanceof TimeoutError) assert.equal(err.timeout, true);
  }
  // Nothing reached the listener.
  ln.setDeadline(Date.now() + 50);
  await mustReject(ln.accept(), TimeoutError, 5000, "an accept with nobody dialing");
});

Deno.test("dial: an aborted signal fails at once, before any network I/O", async () => {
  await using ln = listen("127.0.0.1:0");
  const reason = new Error("stop");
  const err = await mustReject(
    dial(ln.addr, { signal: AbortSignal.abort(reason) }),
    NetError,
    1000,
    "a dial with an aborted signal",
  );
  assert.equal(err.kind, "aborted");
  assert.equal(err.cause, reason);
  ln.setDeadline(Date.now() + 50);
  await mustReject(ln.accept(), TimeoutError, 5000, "an accept with nobody dialing");
});

Deno.test("dial: aborting after the dial completed, or its timeout passing, leaves the conn alone", async () => {
  await using ln = listen("127.0.0.1:0");
  const controller = new AbortController();
  await using conn = await dial(ln.addr, { signal: controller.signal, timeout: 30 });
  await using peer = await mustSettle(ln.accept(), 5000, "the accept");
  controller.abort();
  // Past the dial's timeout too: neither may touch the conn once it is made.
  const buf = new Uint8Array(8);
  const read = peer.read(buf);
  await mustNotSettle(read, 60, "a read with nothing sent");
  await conn.write(new Uint8Array([1, 2, 3]));
  assert.equal(await mustSettle(read, 5000, "the read once data comes"), 3);
  await peer.write(buf.subarray(0, 3));
  assert.equal(await mustSettle(conn.read(buf), 5000, "the reply"), 3);
});

/**
 * A listener whose backlog is full: nobody accepts, and dials beyond the
 * ones it already completed hang.
 */
async function fullListener(): Promise<{ ln: Listener; conns: Conn[] } & AsyncDisposable> {
  const ln = listen("127.0.0.1:0", { backlog: 0 });
  const conns: Conn[] = [];
  const dispose = async () => {
    for (const c of conns) await c[Symbol.asyncDispose]();
    await ln[Symbol.asyncDispose]();
  };
  try {
    for (let i = 0; i < 8; i++) {
      const dialed = dial(ln.addr, { timeout: 300 });
      const conn = await within(
        dialed.catch((e) => e instanceof TimeoutError ? null : Promise.reject(e)),
        5000,
      );
      if (conn === null) return { ln, conns, [Symbol.asyncDispose]: dispose };
      assert.ok(conn !== PENDING, "a dial must complete or time out");
      conns.push(conn);
    }
    return assert.fail(`${conns.length} dials completed: the backlog never filled`);
  } catch (e) {
    await dispose();
    throw e;
  }
}

Deno.test("dial: timeout and signal end a hanging dial in different ways", async (t) => {
  await using full = await fullListener();
  const addr = full.ln.addr;

  await t.step("timeout: TimeoutError, not before the timeout", async () => {
    const timeout = 300;
    const start = performance.now();
    const d = dial(addr, { timeout });
    await mustNotSettle(d, timeout / 2, "a dial to a full backlog");
    const err = await mustReject(d, TimeoutError, timeout * 10, "the dial at its timeout");
    assert.ok(performance.now() - start >= timeout - 5, "not before its timeout");
    assert.equal(err.timeout, true);
    assert.equal(err.kind, "timeout");
    assert.equal(err.op, "dial");
    assert.ok(err.message.includes("i/o timeout"));
  });

  await t.step("signal: a NetError of kind aborted, with the reason as cause", async () => {
    const controller = new AbortController();
    const d = dial(addr, { signal: controller.signal });
    await mustNotSettle(d, 100, "a dial to a full backlog");
    const reason = new Error("user cancelled");
    controller.abort(reason);
    const err = await mustReject(d, NetError, 1000, "the dial once aborted");
    assert.ok(!(err instanceof TimeoutError));
    assert.equal(err.kind, "aborted");
    assert.equal(err.timeout, false);
    assert.equal(err.cause, reason, "the reason, untouched");
  });

  await t.step("signal with a timeout reason (AbortSignal.timeout): TimeoutError", async () => {
    const signal = AbortSignal.timeout(100);
    const err = await mustReject(dial(addr, { signal }), TimeoutError, 5000, "the dial");
    assert.equal(err.cause, signal.reason);
  });

  await t.step(
    "a timeout too long for setTimeout is no limit, not an instant timeout",
    async () => {
      for (const timeout of [2 ** 31 - 1, 2 ** 31, 1e12]) {
        const controller = new AbortController();
        const d = dial(addr, { timeout, signal: controller.signal });
        await mustNotSettle(d, 50, `a dial with timeout ${timeout}`);
        controller.abort();
        const err = await mustReject(d, NetError, 1000, "the dial once aborted");
        assert.equal(err.kind, "aborted");
      }
    },
  );

  await t.step("both: whichever comes first", async () => {
    const controller = new AbortController();
    const slow = dial(addr, { timeout: 60_000, signal: controller.signal });
    await mustNotSettle(slow, 50, "a dial to a full backlog");
    controller.abort();
    const err = await mustReject(slow, NetError, 1000, "the dial once aborted");
    assert.equal(err.kind, "aborted");

    const never = new AbortController();
    const fast = dial(addr, { timeout: 100, signal: never.signal });
    await mustReject(fast, TimeoutError, 5000, "the dial at its timeout");
  });
});

Deno.test({
  name: "dial and accept give conns Go's defaults, or the options asked for",
  ignore: !sockoptSupported(), // reading options back needs --allow-ffi
  async fn() {
    const cases: {
      name: string;
      options: { noDelay?: boolean; keepAlive?: boolean | number };
      want: { noDelay: boolean; keepAlive: boolean; keepAliveIdle?: number };
    }[] = [
      // Go: Nagle off; keepalive on, 15 s idle, 15 s interval, 9 probes.
      {
        name: "defaults",
        options: {},
        want: { noDelay: true, keepAlive: true, keepAliveIdle: 15_000 },
      },
      {
        name: "Nagle on, keepalive off",
        options: { noDelay: false, keepAlive: false },
        want: { noDelay: false, keepAlive: false },
      },
      {
        name: "keepalive period",
        options: { keepAlive: 30_000 },
        want: { noDelay: true, keepAlive: true, keepAliveIdle: 30_000 },
      },
      {
        name: "negative keepalive is off",
        options: { keepAlive: -1 },
        want: { noDelay: true, keepAlive: false },
      },
      {
        name: "keepalive true is Go's 15 s",
        options: { keepAlive: true },
        want: { noDelay: true, keepAlive: true, keepAliveIdle: 15_000 },
      },
      {
        name: "keepalive 0 is Go's 15 s",
        options: { keepAlive: 0 },
        want: { noDelay: true, keepAlive: true, keepAliveIdle: 15_000 },
      },
      {
        name: "a keepalive period rounds up to whole seconds",
        options: { keepAlive: 45_500 },
        want: { noDelay: true, keepAlive: true, keepAliveIdle: 46_000 },
      },
    ];
    for (const { name, options, want } of cases) {
      await using ln = listen("127.0.0.1:0", options);
      await using conn = await dial(ln.addr, options);
      await using peer = await mustSettle(ln.accept(), 5000, "accept");
      for (const [side, c] of [["dialed", conn], ["accepted", peer]] as const) {
        const got = c.socketOptions();
        const what = `${name}, ${side}`;
        assert.equal(got.noDelay, want.noDelay, `${what}: noDelay`);
        assert.equal(got.keepAlive, want.keepAlive, `${what}: keepAlive`);
        if (want.keepAliveIdle !== undefined) {
          assert.equal(got.keepAliveIdle, want.keepAliveIdle, `${what}: idle`);
          assert.equal(got.keepAliveInterval, want.keepAliveIdle, `${what}: interval`);
          assert.equal(got.keepAliveCount, 9, `${what}: count`);
        }
      }
    }
  },
});
