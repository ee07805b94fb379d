// Tests for listener.ts: accept in order, the accept deadline and signal
// (a timed-out accept loses no conn), close (pending accepts fail with
// ClosedError, then the port is free at once), async iteration and
// disposal, backlog, and bad input. Loopback only.
//
// Run: deno test --allow-net tests/listener_test.ts

import assert from "node:assert/strict";
import {
  ClosedError,
  type Conn,
  dial,
  listen,
  NetError,
  type TcpConn,
  TimeoutError,
} from "../mod.ts";
import { delay, eventually, mustNotSettle, mustReject, mustSettle } from "../_kit/wait.ts";
import { readAtLeast } from "../_kit/bytes.ts";

/** Asserts `accepted` is the server side of `dialed`, and bytes flow. */
async function assertPeers(accepted: TcpConn, dialed: TcpConn): Promise<void> {
  assert.equal(accepted.remoteAddr.port, dialed.localAddr.port, "the accepted conn is this dial's");
  await mustSettle(dialed.write(new Uint8Array([42])), 5000, "a write");
  assert.deepEqual(
    await mustSettle(readAtLeast(accepted, 1), 5000, "a read"),
    new Uint8Array([42]),
  );
}

/** Whether `listen(port)` succeeds now; closes what it opened. */
async function canListen(port: number): Promise<boolean> {
  try {
    await listen({ hostname: "127.0.0.1", port })[Symbol.asyncDispose]();
    return true;
  } catch (e) {
    assert.ok(e instanceof NetError && e.kind === "addr-in-use", String(e));
    return false;
  }
}

Deno.test("listener: concurrent accepts are served in the order they were made", async () => {
  await using ln = listen("127.0.0.1:0");
  const accepts = [ln.accept(), ln.accept(), ln.accept()];
  const dialed: TcpConn[] = [];
  try {
    for (let i = 0; i < accepts.length; i++) {
      await mustNotSettle(Promise.race(accepts.slice(i)), 20, `accepts ${i}.. with nobody dialing`);
      dialed.push(await mustSettle(dial(ln.addr), 5000, "dial"));
      await using conn = await mustSettle(accepts[i]!, 5000, `accept ${i}`);
      assert.equal(conn.localAddr.port, ln.addr.port);
      await assertPeers(conn, dialed[i]!);
    }
  } finally {
    for (const c of dialed) await c[Symbol.asyncDispose]();
  }
});

Deno.test("listener: the deadline fails waiting accepts with TimeoutError; a later conn goes to the next accept", async () => {
  await using ln = listen("127.0.0.1:0");
  const ms = 150;
  ln.setDeadline(Date.now() + ms);
  const waiting = [ln.accept(), ln.accept()]; // one holds the runtime accept, one waits in line
  await mustNotSettle(Promise.race(waiting), ms / 3, "accepts before the deadline");
  for (const a of waiting) {
    const err = await mustReject(a, TimeoutError, 5000, "an accept at its deadline");
    assert.equal(err.op, "accept");
    assert.equal(err.timeout, true);
    assert.ok(err.message.includes("i/o timeout"));
  }
  // Passed, the deadline fails accepts at once until it is moved.
  await mustReject(ln.accept(), TimeoutError, 1000, "an accept after the deadline passed");

  // A conn that arrives now is kept for the next accept: none is lost.
  await using client = await mustSettle(dial(ln.addr), 5000, "dial");
  ln.setDeadline(null);
  await using server = await mustSettle(ln.accept(), 5000, "the accept after the deadline moved");
  await assertPeers(server, client);
});

Deno.test("listener: moving the deadline takes effect on a waiting accept", async () => {
  await using ln = listen("127.0.0.1:0");
  ln.setDeadline(Date.now() + 3_600_000);
  const a = ln.accept();
  await mustNotSettle(a, 50, "an accept with a deadline an hour away");
  ln.setDeadline(null);
  await mustNotSettle(a, 50, "an accept with no deadline");
  ln.setDeadline(Date.now() - 1);
  await mustReject(a, TimeoutError, 1000, "an accept once the deadline is in the past");
});

Deno.test("listener: a signal ends one accept (kind aborted, the reason as cause); the conn goes to the next", async () => {
  await using ln = listen("127.0.0.1:0");
  const controller = new AbortController();
  const first = ln.accept({ signal: controller.signal }); // holds the runtime accept
  const second = ln.accept(); // waits in line
  await mustNotSettle(Promise.race([first, second]), 30, "accepts with nobody dialing");
  const reason = new Error("shutting down");
  controller.abort(reason);
  const err = await mustReject(first, NetError, 1000, "the aborted accept");
  assert.ok(!(err instanceof TimeoutError) && !(err instanceof ClosedError));
  assert.equal(err.kind, "aborted");
  assert.equal(err.cause, reason, "the reason, untouched");
  await mustNotSettle(second, 30, "the other accept");
  await using client = await mustSettle(dial(ln.addr), 5000, "dial");
  await using server = await mustSettle(second, 5000, "the accept behind the aborted one");
  await assertPeers(server, client);

  // An aborted signal fails at once; a timeout reason is a TimeoutError.
  const already = await mustReject(
    ln.accept({ signal: AbortSignal.abort(reason) }),
    NetError,
    1000,
    "an accept with an aborted signal",
  );
  assert.equal(already.cause, reason);
  await mustReject(
    ln.accept({ signal: AbortSignal.timeout(30) }),
    TimeoutError,
    5000,
    "an accept with AbortSignal.timeout",
  );
});

Deno.test("listener: close fails pending accepts with ClosedError, then the port can be listened on at once", async () => {
  const ln = listen("127.0.0.1:0");
  const port = ln.addr.port;
  await using client = await dial(ln.addr);
  await using kept = await ln.accept();
  const pending = [ln.accept(), ln.accept(), ln.accept()];
  await mustNotSettle(Promise.race(pending), 30, "accepts with nobody dialing");
  ln.close();
  // Whichever pending accept fails first (one held the runtime's accept, the
  // others waited in line), the port is free by then.
  const first = await mustSettle(
    Promise.race(pending.map((a) => a.catch((e: unknown) => e))),
    5000,
    "the first accept pending at close",
  );
  assert.ok(first instanceof ClosedError, String(first));
  assert.ok(await canListen(port), "the port is free once a pending accept has failed");
  for (const a of pending) {
    const err = await mustReject(a, ClosedError, 5000, "an accept pending at close");
    assert.equal(err.op, "accept");
    assert.ok(err.message.includes("use of closed network connection"));
  }

  // Later calls fail the same way; close again does nothing.
  await mustReject(ln.accept(), ClosedError, 1000, "an accept after close");
  assert.throws(() => ln.setDeadline(null), ClosedError);
  ln.close();
  await ln[Symbol.asyncDispose]();
  // A conn accepted before close stays open.
  await assertPeers(kept, client);
});

Deno.test("listener: after a timed-out accept, close and asyncDispose still free the port and leak no conn", async () => {
  const ln = listen("127.0.0.1:0");
  const port = ln.addr.port;
  ln.setDeadline(Date.now() + 30);
  await mustReject(ln.accept(), TimeoutError, 5000, "an accept at its deadline");
  // The runtime's accept is still running; a conn that arrives now is taken
  // by it and must be closed, not leaked, when the listener closes.
  await using client = await mustSettle(dial(ln.addr), 5000, "dial");
  await ln[Symbol.asyncDispose]();
  assert.ok(await canListen(port), "the port is free once asyncDispose returns");
  // The client sees its conn end (EOF or reset) instead of hanging.
  const end = await mustSettle(
    client.read(new Uint8Array(1)).catch((e: unknown) => e),
    5000,
    "the read on a conn the listener dropped",
  );
  assert.ok(end === null || (end instanceof NetError && end.kind === "reset"), String(end));
});

Deno.test("listener: async iteration yields conns until close, then ends", async () => {
  const ln = listen("127.0.0.1:0");
  const served: TcpConn[] = [];
  const loop = (async () => {
    for await (const conn of ln) served.push(conn);
  })();
  const dialed: TcpConn[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      dialed.push(await mustSettle(dial(ln.addr), 5000, "dial"));
      await assertPeers(await eventuallyServed(served, i), dialed[i]!);
    }
    await mustNotSettle(loop, 30, "iteration of an open listener");
    ln.close();
    await mustSettle(loop, 5000, "iteration once the listener closed");
    assert.equal(served.length, 3);
  } finally {
    ln.close();
    for (const c of [...dialed, ...served]) await c[Symbol.asyncDispose]();
    await ln[Symbol.asyncDispose]();
  }
});

/** The `i`th conn the loop served, once it has served it. */
function eventuallyServed(served: TcpConn[], i: number): Promise<TcpConn> {
  return eventually(async (ms) => {
    if (served.length <= i) await delay(ms);
    assert.ok(served.length > i, `conn ${i} not served yet`);
    return served[i]!;
  }, { start: 1, cap: 500 });
}

Deno.test("listener: async iteration ends with the error when the deadline passes", async () => {
  await using ln = listen("127.0.0.1:0");
  ln.setDeadline(Date.now() + 30);
  const loop = (async () => {
    for await (const conn of ln) conn.close();
  })();
  await mustReject(loop, TimeoutError, 5000, "iteration past the deadline");
});

Deno.test("listener: await using closes it and frees the port", async () => {
  let port: number;
  let pending: Promise<Conn>;
  {
    await using ln = listen("127.0.0.1:0");
    port = ln.addr.port;
    pending = ln.accept();
    await mustNotSettle(pending, 20, "an accept with nobody dialing");
  }
  await mustReject(pending, ClosedError, 1000, "an accept pending at dispose");
  assert.ok(await canListen(port), "the port is free after the block");
});

Deno.test("listener: backlog n lets about n + 1 dials complete while nobody accepts", async () => {
  for (const backlog of [0, 4]) {
    await using ln = listen("127.0.0.1:0", { backlog });
    const conns: Conn[] = [];
    try {
      for (let i = 0; i <= backlog + 4; i++) {
        const d = dial(ln.addr, { timeout: 300 }).catch((e) => e);
        const conn = await mustSettle(d, 5000, `dial ${i}`);
        if (conn instanceof TimeoutError) break;
        assert.ok(!(conn instanceof Error), `dial ${i}: ${conn}`);
        conns.push(conn);
      }
      const n = conns.length;
      assert.ok(n >= Math.max(backlog, 1) && n <= backlog + 2, `backlog ${backlog}: ${n} dials`);
    } finally {
      for (const c of conns) await c[Symbol.asyncDispose]();
    }
  }
});

Deno.test("listener: bad options and deadlines are errors at once", async () => {
  for (const backlog of [-1, 1.5, NaN, Infinity]) {
    assert.throws(
      () => listen("127.0.0.1:0", { backlog: backlog as number }).close(),
      RangeError,
      `backlog ${String(backlog)}`,
    );
  }
  assert.throws(() => listen("127.0.0.1:0", { backlog: "5" as unknown as number }), TypeError);
  await using ln = listen("127.0.0.1:0");
  for (const t of [NaN, Infinity, -Infinity, new Date(NaN)]) {
    assert.throws(() => ln.setDeadline(t), RangeError, `deadline ${String(t)}`);
  }
  for (const t of ["soon", undefined, {}]) {
    assert.throws(() => ln.setDeadline(t as unknown as number), TypeError, `deadline ${t}`);
  }
  // A bad deadline leaves the old one: none here, so an accept waits.
  await mustNotSettle(ln.accept(), 20, "an accept with no deadline");
});

Deno.test("listener: an address in use or not local is a NetError of that kind", async () => {
  await using ln = listen("127.0.0.1:0");
  let err: unknown;
  try {
    listen(`127.0.0.1:${ln.addr.port}`).close();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof NetError, String(err));
  assert.equal(err.kind, "addr-in-use");
  assert.equal(err.op, "listen");

  // 192.0.2.1 is TEST-NET-1: never an address of this host. Binding sends nothing.
  assert.throws(
    () => listen("192.0.2.1:0").close(),
    (e) => e instanceof NetError && e.kind === "addr-not-available",
  );
});
