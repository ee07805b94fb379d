// Bad input, as a JavaScript caller passes it: every public function of the
// conn core checks what it is given before anything starts. A wrong type is a
// TypeError, a value out of range a RangeError; a method that returns a
// promise rejects and never throws; nothing is sent, read, accepted or lost
// because of a bad argument.

import assert from "node:assert/strict";
import { Conn, dial, listen, Listener, NetError, TcpConn } from "../mod.ts";
import { Deadline } from "../deadline.ts";
import { NOT_BYTES } from "./_helpers.ts";
import { mustNotSettle, mustSettle } from "../_kit/wait.ts";
import { pair } from "../_kit/loopback.ts";
import { readAtLeast } from "../_kit/bytes.ts";

/** What a caller passes where a signal goes. */
const NOT_SIGNALS: [string, unknown][] = [
  ["an AbortController", new AbortController()],
  ["a string", "abort"],
  ["an object", {}],
  ["null", null],
  ["true", true],
];

/** Calls `f` and returns its promise; fails if `f` throws synchronously. */
function call<T>(what: string, f: () => Promise<T>): Promise<T> {
  let p: Promise<T>;
  try {
    p = f();
  } catch (e) {
    return assert.fail(`${what} must reject, not throw: threw ${String(e)}`);
  }
  assert.ok(p instanceof Promise, `${what} returns a promise`);
  return p;
}

async function rejectsWith(
  what: string,
  f: () => Promise<unknown>,
  type: typeof TypeError | typeof RangeError,
): Promise<Error> {
  const err = await mustSettle(call(what, f).then(() => undefined, (e) => e), 2000, what);
  assert.ok(err instanceof type, `${what}: want ${type.name}, got ${String(err)}`);
  return err;
}

Deno.test("bad input: Conn.read and Conn.write reject with TypeError; nothing is read or sent", async () => {
  await using p = await pair();
  for (const [name, value] of NOT_BYTES) {
    const readErr = await rejectsWith(
      `read(${name})`,
      () => p.server.read(value as Uint8Array),
      TypeError,
    );
    assert.ok(readErr.message.includes("Conn.read takes a Uint8Array"), readErr.message);
    await rejectsWith(`write(${name})`, () => p.client.write(value as Uint8Array), TypeError);
  }
  for (const [name, signal] of NOT_SIGNALS) {
    const buf = new Uint8Array(4);
    const err = await rejectsWith(
      `write(p, { signal: ${name} })`,
      () => p.client.write(buf.fill(9), { signal: signal as AbortSignal }),
      TypeError,
    );
    assert.ok(err.message.includes('option "signal" must be an AbortSignal'), err.message);
    await rejectsWith(
      `read(p, { signal: ${name} })`,
      () => p.server.read(buf, { signal: signal as AbortSignal }),
      TypeError,
    );
  }
  for (const options of ["x", 5, null, [1]]) {
    await rejectsWith(
      `write(p, ${String(options)})`,
      () => p.client.write(new Uint8Array(1), options as { signal?: AbortSignal }),
      TypeError,
    );
  }
  // Nothing was sent: the peer reads only what comes next, whole.
  await p.client.write(new Uint8Array([1, 2, 3]));
  assert.deepEqual([...await readAtLeast(p.server, 3)], [1, 2, 3]);
  // Nothing was lost on the reading side either.
  await mustNotSettle(p.server.read(new Uint8Array(1)), 30, "a read with no data");
  assert.equal(p.client.stats().bytesWritten, 3);
});

Deno.test("bad input: deadlines take a Date, a finite number or null", async () => {
  await using p = await pair();
  const setters = [
    (t: unknown) => p.client.setDeadline(t as number),
    (t: unknown) => p.client.setReadDeadline(t as number),
    (t: unknown) => p.client.setWriteDeadline(t as number),
    (t: unknown) => p.ln.setDeadline(t as number),
    (t: unknown) => new Deadline().set(t as number),
  ];
  for (const set of setters) {
    for (const t of [undefined, "soon", {}, [], true, 5n]) {
      assert.throws(() => set(t), TypeError, `deadline ${String(t)}`);
    }
    for (const t of [NaN, Infinity, -Infinity, new Date(NaN)]) {
      assert.throws(() => set(t), RangeError, `deadline ${String(t)}`);
    }
  }
  // A bad deadline leaves the old one: none, so a read still waits.
  await mustNotSettle(p.server.read(new Uint8Array(1)), 30, "a read with no deadline");
});

// The FFI-backed setters' bad values: tests/conn_options_test.ts (they throw what ./sockopt throws).
Deno.test("bad input: setNoDelay and setKeepAlive take booleans only", async () => {
  await using p = await pair();
  const c = p.client;
  assert.throws(() => c.setNoDelay("yes" as unknown as boolean), TypeError);
  assert.throws(() => c.setKeepAlive(1 as unknown as boolean), TypeError);
  // The conn is untouched: Nagle stays off, keepalive on.
  assert.equal(c.socketOptions().noDelay, true);
  assert.equal(c.socketOptions().keepAlive, true);
});

Deno.test("bad input: dial rejects bad options with TypeError before any connection", async () => {
  await using ln = listen("127.0.0.1:0");
  const bad: [string, unknown][] = [
    ["options 5", 5],
    ["options a string", "fast"],
    ["options null", null],
    ["noDelay a string", { noDelay: "yes" }],
    ["keepAlive a string", { keepAlive: "on" }],
    ["signal an AbortController", { signal: new AbortController() }],
    ["timeout a string", { timeout: "100" }],
  ];
  for (const [what, options] of bad) {
    const err = await rejectsWith(
      `dial(addr, ${what})`,
      () => dial(ln.addr, options as Record<string, never>),
      TypeError,
    );
    assert.ok(/dial/.test(err.message), err.message);
  }
  for (const address of [5, null, undefined, true, ["127.0.0.1", 80]]) {
    const err = await mustSettle(
      call(`dial(${String(address)})`, () => dial(address as unknown as string)).catch((e) => e),
    );
    assert.ok(err instanceof NetError && err.kind === "invalid-address", String(err));
  }
  // Nobody dialed: an accept still waits.
  await mustNotSettle(ln.accept(), 30, "an accept after bad dials");
});

Deno.test("bad input: listen throws TypeError for bad options and leaves no listener", () => {
  const bad: unknown[] = [
    5,
    "x",
    null,
    { noDelay: "yes" },
    { keepAlive: "on" },
    { reusePort: 1 },
    { backlog: "5" },
  ];
  for (const options of bad) {
    assert.throws(
      () => listen("127.0.0.1:0", options as Record<string, never>).close(),
      TypeError,
      JSON.stringify(options),
    );
  }
  // The sanitizers check that no listener was left open.
});

Deno.test("bad input: Listener.accept rejects bad options; the next conn still goes to a good accept", async () => {
  await using ln = listen("127.0.0.1:0");
  for (const [name, signal] of NOT_SIGNALS) {
    await rejectsWith(
      `accept({ signal: ${name} })`,
      () => ln.accept({ signal: signal as AbortSignal }),
      TypeError,
    );
  }
  await rejectsWith("accept(5)", () => (ln as Listener).accept(5 as unknown as object), TypeError);
  await using client = await dial(ln.addr);
  await using server = await mustSettle(ln.accept(), 2000, "a good accept");
  assert.equal(server.remoteAddr.port, client.localAddr.port);
});

Deno.test("bad input: new Conn and new TcpConn take a Deno conn; TcpConn checks its options", async () => {
  for (const raw of [null, undefined, {}, "conn", 5]) {
    assert.throws(() => new Conn(raw as unknown as Deno.TcpConn), TypeError, String(raw));
    assert.throws(
      () => new TcpConn(raw as unknown as Deno.TcpConn),
      /TcpConn takes a Deno.TcpConn/,
    );
    assert.throws(() => new Listener(raw as never), /new Listener takes a Deno.TcpListener/);
  }
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const raw = await Deno.connect({ hostname: "127.0.0.1", port: ln.addr.port });
  const peer = await ln.accept();
  try {
    assert.throws(() => new TcpConn(raw, { noDelay: "yes" as unknown as boolean }), TypeError);
    // Wrapping as a TcpConn gives Go's defaults, as dial does: Nagle off.
    await using conn = new TcpConn(raw);
    assert.equal(conn.socketOptions().noDelay, true);
    assert.equal(conn.socketOptions().keepAlive, true);
  } finally {
    peer.close();
    ln.close();
  }
});
