// serve() and Server: one task per conn, errors kept with their conn, accept
// that survives EMFILE, idle-first graceful shutdown, maxConns, idleTimeout,
// and the checks on every argument. Timing is asserted in must-return /
// must-not-return pairs; loopback and unix sockets in a temp dir only.

import assert from "node:assert/strict";
import {
  ClosedError,
  type Conn,
  dial,
  listen,
  type Listener,
  NetError,
  serve,
  Server,
  TimeoutError,
  type UnixConn,
} from "../mod.ts";
import { WATCH_IDLE } from "../_idle.ts";
import { Backoff, isTemporaryAcceptError } from "../_accept_retry.ts";
import { serveResp } from "../examples/resp_server.ts";
import { serveChat } from "../examples/chat.ts";
import { FaultProxy } from "../testing/mod.ts";
import { fillUntilBlocked, ipv6Available, needs } from "./_helpers.ts";
import { eventually, mustNotSettle, mustReject, mustSettle } from "../_kit/wait.ts";
import { drain, readAtLeast } from "../_kit/bytes.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Echoes until EOF. */
async function echo(conn: Conn | UnixConn): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    await conn.write(buf.subarray(0, n));
  }
}

/** Writes `text` and reads back as many bytes. */
async function roundTrip(conn: Conn | UnixConn, text: string): Promise<string> {
  await conn.write(encoder.encode(text));
  return decoder.decode(await readAtLeast(conn as Conn, text.length));
}

/** Resolves once `check()` is true, polling each ms, failing after `limitMs`. */
async function until(check: () => boolean, limitMs = 5000, what = "the condition"): Promise<void> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > limitMs) {
      assert.fail(`${what} did not hold within ${limitMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

Deno.test("serve echoes on many conns at once, and stats count them", async () => {
  await using server = serve("127.0.0.1:0", echo);
  const clients = await Promise.all(Array.from({ length: 20 }, () => dial(server.addr)));
  try {
    const replies = await Promise.all(clients.map((c, i) => roundTrip(c, `hello ${i}`)));
    assert.deepEqual(replies, clients.map((_, i) => `hello ${i}`));
    const stats = server.stats();
    assert.equal(stats.accepted, 20);
    assert.equal(stats.active, 20);
    assert.equal(stats.errors, 0);
    assert.equal(stats.acceptRetries, 0);
    // Every handler now waits in read with nothing buffered: idle.
    await until(() => server.stats().idle === 20, 5000, "20 idle conns");
  } finally {
    for (const c of clients) c.close();
  }
  await until(() => server.stats().active === 0, 5000, "every handler ended");
});

Deno.test("serve listens on a unix socket, and takes a Listener it was given", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/serve.sock`;
    {
      await using server = serve({ transport: "unix", path }, echo);
      assert.equal(String(server.addr), path);
      await using client = await dial({ transport: "unix", path });
      assert.equal(await roundTrip(client, "unix"), "unix");
    }
    assert.throws(() => Deno.lstatSync(path), Deno.errors.NotFound); // closed: the file is gone
    const ln = listen("127.0.0.1:0");
    await using server = serve(ln, echo);
    assert.equal(server.addr, ln.addr);
    await using client = await dial(ln.addr);
    assert.equal(await roundTrip(client, "given"), "given");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a handler that throws or rejects goes to onError with its conn; the server goes on", async () => {
  const seen: [string, string][] = [];
  let calls = 0;
  await using server = serve("127.0.0.1:0", (conn) => {
    calls++;
    if (calls === 1) throw new Error("thrown at once");
    if (calls === 2) return Promise.reject(new Error("rejected"));
    if (calls === 3) {
      return conn.write(encoder.encode("x")).then(() => {
        throw "a string";
      });
    }
    return echo(conn);
  }, {
    onError: (error, conn) => {
      seen.push([error instanceof Error ? error.message : String(error), String(conn.remoteAddr)]);
      if (seen.length === 2) throw new Error("onError throws too");
    },
  });
  const ports: string[] = [];
  for (let i = 0; i < 3; i++) {
    await using client = await dial(server.addr);
    ports.push(String(client.localAddr));
    // The conn is closed: EOF (after the byte the third handler wrote).
    await mustSettle(drain(client), 5000, "EOF after the handler failed");
  }
  await using client = await dial(server.addr);
  assert.equal(await roundTrip(client, "still serving"), "still serving");
  await until(() => seen.length === 3);
  assert.deepEqual(seen, [
    ["thrown at once", ports[0]],
    ["rejected", ports[1]],
    ["a string", ports[2]],
  ]);
  assert.equal(server.stats().errors, 3);
});

Deno.test("the default onError writes one line on stderr with the peer's address", async () => {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void lines.push(args.join(" "));
  try {
    await using server = serve("127.0.0.1:0", () => {
      throw new Error("boom\nsecond line");
    });
    await using client = await dial(server.addr);
    await mustSettle(drain(client));
    await until(() => lines.length === 1);
    assert.equal(lines[0], `serve: conn from ${client.localAddr}: Error: boom`);
  } finally {
    console.error = original;
  }
});

Deno.test("a client that sends 8 MiB without reading, then closes, costs its conn only", async () => {
  // The README's old pattern died here with "Uncaught (in promise) ... connection reset".
  const errors: unknown[] = [];
  await using server = serve("127.0.0.1:0", echo, { onError: (e) => void errors.push(e) });
  {
    await using client = await dial(server.addr);
    const sent = client.write(new Uint8Array(8 << 20)).catch((e) => e);
    // The echo blocks once the client's receive buffer is full; closing with
    // unread data resets the conn under the handler's write.
    await until(() => (client.stats().bytesWritten > 1 << 20), 5000, "the client sent 1 MiB");
    client.setLinger(0);
    client.close();
    await sent;
  }
  await until(() => errors.length === 1 && server.stats().active === 0, 5000, "the error reported");
  assert.ok(errors[0] instanceof NetError);
  await using next = await dial(server.addr);
  assert.equal(await roundTrip(next, "alive"), "alive");
});

Deno.test("serve checks every argument before it listens", async () => {
  const handler = () => {};
  using raw = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const cases: [string, () => unknown, new (...a: never[]) => Error, RegExp][] = [
    [
      "no handler",
      () => serve("127.0.0.1:0", undefined as never),
      TypeError,
      /handler function: received undefined/,
    ],
    [
      "a string handler",
      () => serve("127.0.0.1:0", "echo" as never),
      TypeError,
      /received a string "echo"/,
    ],
    [
      "a raw Deno listener",
      () => serve(raw as never, handler),
      TypeError,
      /netconn Listener or an address: received an? \w+/,
    ],
    [
      "null options",
      () => serve("127.0.0.1:0", handler, null as never),
      TypeError,
      /options object: received null/,
    ],
    [
      "an array of options",
      () => serve("127.0.0.1:0", handler, [] as never),
      TypeError,
      /options object: received an array/,
    ],
    [
      "a misspelt option",
      () => serve("127.0.0.1:0", handler, { maxConn: 5 } as never),
      TypeError,
      /serve has no option "maxConn": it takes "onError", "maxConns", "idleTimeout"/,
    ],
    [
      "onError not a function",
      () => serve("127.0.0.1:0", handler, { onError: "log" } as never),
      TypeError,
      /serve option "onError" must be a function: received a string "log"/,
    ],
    [
      "maxConns a string",
      () => serve("127.0.0.1:0", handler, { maxConns: "10" } as never),
      TypeError,
      /serve option "maxConns" must be a number: received a string "10"/,
    ],
    [
      "maxConns 0",
      () => serve("127.0.0.1:0", handler, { maxConns: 0 }),
      RangeError,
      /"maxConns" must be an integer >= 1: received the number 0/,
    ],
    [
      "maxConns 1.5",
      () => serve("127.0.0.1:0", handler, { maxConns: 1.5 }),
      RangeError,
      /received the number 1.5/,
    ],
    [
      "maxConns NaN",
      () => serve("127.0.0.1:0", handler, { maxConns: NaN }),
      RangeError,
      /received the number NaN/,
    ],
    [
      "maxConns Infinity",
      () => serve("127.0.0.1:0", handler, { maxConns: Infinity }),
      RangeError,
      /received the number Infinity/,
    ],
    [
      "idleTimeout null",
      () => serve("127.0.0.1:0", handler, { idleTimeout: null } as never),
      TypeError,
      /"idleTimeout" must be milliseconds: received null/,
    ],
    [
      "idleTimeout 0",
      () => serve("127.0.0.1:0", handler, { idleTimeout: 0 }),
      RangeError,
      /"idleTimeout" must be milliseconds > 0/,
    ],
    [
      "idleTimeout -5",
      () => serve("127.0.0.1:0", handler, { idleTimeout: -5 }),
      RangeError,
      /received the number -5/,
    ],
    [
      "idleTimeout NaN",
      () => serve("127.0.0.1:0", handler, { idleTimeout: NaN }),
      RangeError,
      /received the number NaN/,
    ],
    [
      "idleTimeout too large",
      () => serve("127.0.0.1:0", handler, { idleTimeout: 2 ** 31 }),
      RangeError,
      /<= 2147483647/,
    ],
    ["a bad address", () => serve("127.0.0.1", handler), NetError, /missing port/],
    ["a port out of range", () => serve({ port: 70000 }, handler), NetError, /invalid port/],
    ["a number address", () => serve(8080 as never, handler), NetError, /received the number 8080/],
  ];
  for (const [name, call, type, message] of cases) {
    assert.throws(call, (e: unknown) => {
      assert.ok(e instanceof type, `${name}: ${String(e)}`);
      assert.match((e as Error).message, message, name);
      return true;
    }, name);
  }
  // A bad option with a good listener: the listener is left as it was, still the caller's.
  await using ln = listen("127.0.0.1:0");
  assert.throws(() => serve(ln, handler, { idleTimeout: -1 }), RangeError);
  await using client = await dial(ln.addr);
  await using accepted = await ln.accept();
  assert.equal(accepted.remoteAddr.port, client.localAddr.port);
});

Deno.test("shutdown's options are checked; a bad one rejects, never throws", async () => {
  await using server = serve("127.0.0.1:0", echo);
  const cases: [unknown, typeof TypeError | typeof RangeError, RegExp][] = [
    [null, TypeError, /options object: received null/],
    [
      { timout: 100 },
      TypeError,
      /Server.shutdown has no option "timout": it takes "timeout", "signal"/,
    ],
    [{ timeout: "5s" }, TypeError, /"timeout" must be milliseconds: received a string "5s"/],
    [{ timeout: -1 }, RangeError, /received the number -1/],
    [{ timeout: NaN }, RangeError, /received the number NaN/],
    [{ timeout: Infinity }, RangeError, /received the number Infinity/],
    [
      { signal: new AbortController() },
      TypeError,
      /"signal" must be an AbortSignal: received an AbortController/,
    ],
  ];
  for (const [options, type, message] of cases) {
    let promise: Promise<unknown> | undefined;
    assert.doesNotThrow(() => promise = server.shutdown(options as never));
    const error = await mustReject(promise!, type);
    assert.match(error.message, message);
  }
  // Nothing started: the server still serves.
  await using client = await dial(server.addr);
  assert.equal(await roundTrip(client, "still"), "still");
});

/** A server whose handler, per the first line a client sends, idles, works or floods. */
function lineServer(
  onError: (e: unknown) => void = () => {},
  hang: Promise<void> = Promise.resolve(),
): Server {
  return serve("127.0.0.1:0", async (conn) => {
    await conn.write(encoder.encode("ok\n"));
    const buf = new Uint8Array(64);
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      const line = decoder.decode(buf.subarray(0, n)).trim();
      if (line === "slow") {
        await new Promise((resolve) => setTimeout(resolve, 200)); // busy, not in read
        await conn.write(encoder.encode("done\n"));
      } else if (line === "flood") {
        const chunk = new Uint8Array(64 * 1024);
        for (;;) await conn.write(chunk); // the peer never reads: stuck in write
      } else if (line === "hang") {
        await hang; // work past any timeout, until the test ends it
      }
    }
  }, { onError });
}

/** Dials and reads the "ok" greeting, so the handler runs. */
async function greeted(server: Server): Promise<Conn> {
  const conn = await dial(server.addr);
  assert.equal(decoder.decode(await readAtLeast(conn, 3)), "ok\n");
  return conn;
}

Deno.test("shutdown closes idle conns at once, lets busy ones finish, and refuses new dials", async () => {
  const errors: unknown[] = [];
  const server = lineServer((e) => errors.push(e));
  await using idle = await greeted(server);
  await using busy = await greeted(server);
  await busy.write(encoder.encode("slow\n"));
  await until(() => server.stats().idle === 1, 5000, "one idle conn");
  const result = server.shutdown({ timeout: 5000 });
  // The idle conn reads EOF at once: must return quickly...
  assert.equal(await mustSettle(idle.read(new Uint8Array(1)), 1000, "the idle conn's EOF"), null);
  // ...the port is closed...
  await eventually(async () => {
    await mustReject(dial(server.addr), NetError, 1000, "a dial after shutdown");
  });
  // ...and the busy one is not cut: its answer comes, then EOF once it waits in read again.
  assert.equal(decoder.decode(await readAtLeast(busy, 5)), "done\n");
  assert.equal(await mustSettle(busy.read(new Uint8Array(1)), 1000, "the busy conn's EOF"), null);
  assert.deepEqual(await result, { finished: 2, forced: 0 });
  await mustSettle(server.finished);
  assert.deepEqual(errors, []); // closing idle conns is not an error
});

Deno.test("shutdown forces a stuck conn when the timeout passes, not before", async () => {
  const server = lineServer();
  await using stuck = await greeted(server);
  await stuck.write(encoder.encode("flood\n"));
  await readAtLeast(stuck, 1); // the flood started; nobody reads it from now on
  await eventually(async (ms) => {
    // Must not return before its timeout (the conn is busy writing)...
    const result = server.shutdown({ timeout: ms * 4 });
    await mustNotSettle(result, ms, "shutdown with a stuck conn");
    // ...and must return soon after it.
    assert.deepEqual(await mustSettle(result, ms * 4 + 2000), { finished: 0, forced: 1 });
  }, { start: 50, cap: 400 });
  await mustSettle(server.finished);
  assert.deepEqual(server.stats().active, 0);
});

Deno.test("shutdown's signal forces what is left; close() is the hard form", async () => {
  const work = Promise.withResolvers<void>();
  const server = lineServer(() => {}, work.promise);
  await using hang = await greeted(server);
  await hang.write(encoder.encode("hang\n"));
  await until(() => server.stats().idle === 0 && hang.stats().bytesWritten > 0);
  const abort = new AbortController();
  const result = server.shutdown({ signal: abort.signal });
  await mustNotSettle(result, 100, "shutdown before the signal");
  abort.abort();
  assert.deepEqual(await mustSettle(result, 2000), { finished: 0, forced: 1 });
  assert.equal(await mustSettle(hang.read(new Uint8Array(1))), null);
  // The handler is still at work, its conn closed: finished waits for it.
  await mustNotSettle(server.finished, 50, "finished while a handler runs");
  server.close(); // changes nothing now
  assert.deepEqual(await server.shutdown(), { finished: 0, forced: 1 });
  work.resolve();
  await mustSettle(server.finished);
});

Deno.test("close() wakes and closes every conn at once; their errors are not reported", async () => {
  const errors: unknown[] = [];
  const server = lineServer((e) => errors.push(e));
  await using idle = await greeted(server);
  await using stuck = await greeted(server);
  await stuck.write(encoder.encode("flood\n"));
  await readAtLeast(stuck, 1); // the flood started; nobody reads it from now on
  const start = performance.now();
  server.close();
  await mustSettle(server.finished, 2000, "finished after close()");
  const ms = performance.now() - start;
  assert.ok(ms < 1000, `close took ${ms} ms`);
  assert.equal(await idle.read(new Uint8Array(1)), null);
  assert.deepEqual(errors, []);
  assert.equal(server.stats().active, 0);
});

Deno.test("a conn is idle while a read waits with nothing buffered and no write queued", async (t) => {
  const dir = Deno.makeTempDirSync();
  try {
    const makers: [string, () => Listener<Conn> | Listener<UnixConn>][] = [
      ["tcp (kernel-first reads)", () => listen("127.0.0.1:0")],
      ["unix (runtime reads only)", () => listen({ transport: "unix", path: `${dir}/idle.sock` })],
    ];
    for (const [name, make] of makers) {
      await t.step(name, async () => {
        await using ln = make() as Listener<Conn>;
        await using client = await dial(ln.addr);
        await using conn = await ln.accept();
        const buf = new Uint8Array(8);
        let calls = 0;
        let called = Promise.withResolvers<void>(); // resolved by the next call
        const onIdle = () => {
          calls++;
          called.resolve();
          called = Promise.withResolvers<void>();
        };
        assert.equal(conn[WATCH_IDLE](onIdle), false, "no read: not idle");

        // A read that waits: idle, and the watcher is told.
        let read = conn.read(buf);
        await until(() => calls > 0, 2000, "told once the read waits");
        assert.equal(conn[WATCH_IDLE](onIdle), true);
        await client.write(encoder.encode("abc"));
        assert.equal(await read, 3);
        assert.equal(conn[WATCH_IDLE](onIdle), false, "the read returned: not idle");

        // Bytes buffered, unread: a read of 1 byte leaves 2 in the buffer.
        await client.write(encoder.encode("xyz"));
        assert.equal(await conn.read(buf.subarray(0, 1)), 1);
        assert.equal(conn[WATCH_IDLE](onIdle), false, "bytes buffered: not idle");
        assert.equal(await conn.read(buf), 2);

        // A read that waits while a write is stuck: not idle until the write ends.
        const { blocked } = await fillUntilBlocked(conn);
        const next = called.promise;
        read = conn.read(buf);
        // Must not be told while the write is stuck...
        await mustNotSettle(next, 50, "an idle call while a write is stuck");
        assert.equal(conn[WATCH_IDLE](onIdle), false, "a write queued: not idle");
        const drained = drainSome(client);
        await blocked;
        // ...and must be, once it ended.
        await mustSettle(next, 2000, "the idle call once the write ended");
        assert.equal(conn[WATCH_IDLE](onIdle), true);
        await client.write(encoder.encode("!"));
        assert.equal(await read, 1);
        client.close();
        await drained;

        // No read waits now: not idle; null unregisters.
        assert.equal(conn[WATCH_IDLE](null), false);
      });
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** Reads until EOF, ignoring errors; returns the bytes read. */
async function drainSome(conn: Conn): Promise<number> {
  try {
    return (await drain(conn)).bytes;
  } catch {
    return -1;
  }
}

Deno.test("a read a deadline ended is not idle; the next read that adopts it is", async () => {
  await using ln = listen("127.0.0.1:0");
  await using client = await dial(ln.addr);
  await using conn = await ln.accept();
  const buf = new Uint8Array(8);
  let calls = 0;
  conn[WATCH_IDLE](() => void calls++);
  await until(() => true);
  conn.setReadDeadline(Date.now() + 30);
  await mustReject(conn.read(buf), TimeoutError);
  assert.equal(conn[WATCH_IDLE](() => void calls++), false, "nobody waits");
  conn.setReadDeadline(null);
  const before = calls;
  const read = conn.read(buf);
  await until(() => calls > before, 2000, "told when a read waits again");
  assert.equal(conn[WATCH_IDLE](null), true);
  await client.write(encoder.encode("a"));
  assert.equal(await read, 1);
});

Deno.test("maxConns: at the limit clients wait in the backlog; a conn that ends lets the next in", async () => {
  const release = [Promise.withResolvers<void>(), Promise.withResolvers<void>()];
  let started = 0;
  await using server = serve("127.0.0.1:0", async (conn) => {
    const mine = started++;
    await conn.write(encoder.encode(`${mine}`));
    if (mine < 2) await release[mine]!.promise;
  }, { maxConns: 2 });
  await using a = await dial(server.addr);
  await using b = await dial(server.addr);
  assert.equal(decoder.decode(await readAtLeast(a, 1)), "0");
  assert.equal(decoder.decode(await readAtLeast(b, 1)), "1");
  // The third dial completes in the kernel's backlog, but nobody serves it...
  await using c = await dial(server.addr);
  const third = readAtLeast(c, 1);
  await mustNotSettle(third, 100, "the third conn's greeting at the limit");
  assert.equal(server.stats().accepted, 2);
  // ...until a conn ends.
  release[0]!.resolve();
  assert.equal(decoder.decode(await mustSettle(third, 2000)), "2");
  release[1]!.resolve();
});

Deno.test("idleTimeout closes a conn that read nothing for that long, not one that reads", async () => {
  await eventually(async (ms) => {
    await using server = serve("127.0.0.1:0", echo, { idleTimeout: ms });
    await using quiet = await dial(server.addr);
    await using chatty = await dial(server.addr);
    const quietEnd = quiet.read(new Uint8Array(1));
    // Must not close before the timeout...
    await mustNotSettle(quietEnd, ms * 0.75, "the quiet conn before idleTimeout");
    // ...while the chatty one, sending every ms/4, stays.
    for (let i = 0; i < 8; i++) {
      assert.equal(await roundTrip(chatty, "."), ".");
      await new Promise((resolve) => setTimeout(resolve, ms / 4)); // pacing the chatty client
    }
    // ...and must close soon after it (the sweep runs every ms/4).
    assert.equal(await mustSettle(quietEnd, ms * 2, "the quiet conn closed"), null);
    assert.equal(await roundTrip(chatty, "still"), "still");
  }, { start: 100, cap: 800 });
});

Deno.test("temporary accept errors back off and retry; other errors and close end the iterator", async () => {
  assert.equal(isTemporaryAcceptError(new Error("Too many open files (os error 24)")), true);
  assert.equal(isTemporaryAcceptError(new Error("Cannot allocate memory (os error 12)")), true);
  assert.equal(isTemporaryAcceptError(new Deno.errors.ConnectionAborted("aborted")), true);
  assert.equal(isTemporaryAcceptError(new Error("Bad file descriptor (os error 9)")), false);
  assert.equal(isTemporaryAcceptError(new ClosedError({ op: "accept" })), false);
  assert.equal(isTemporaryAcceptError(new TimeoutError({ op: "accept" })), false);
  assert.equal(isTemporaryAcceptError("Too many open files"), false);
  const backoff = new Backoff();
  const pauses = Array.from({ length: 10 }, () => backoff.next());
  assert.deepEqual(pauses, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
  backoff.reset();
  assert.equal(backoff.next(), 5);
  // A listener with a passed deadline: the iterator throws, as before.
  await using ln = listen("127.0.0.1:0");
  ln.setDeadline(Date.now() - 1);
  await mustReject(
    (async () => {
      for await (const _ of ln) assert.fail("nothing to accept");
    })(),
    TimeoutError,
  );
});

/** A child process with its stdin and its JSON lines. */
interface Child extends AsyncDisposable {
  line(): Promise<Record<string, unknown>>;
  send(command: string): Promise<void>;
  process: Deno.ChildProcess;
}

/** Starts tests/_server_child.ts under `bash -c` (for ulimit). */
function startChild(prefix: string, flags: string[], ...args: string[]): Child {
  const module = new URL("./_server_child.ts", import.meta.url).pathname;
  const command = [Deno.execPath(), "run", "--no-prompt", ...flags, module, ...args]
    .map((a) => `'${a}'`).join(" ");
  const process = new Deno.Command("bash", {
    args: ["-c", `${prefix}exec ${command}`],
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(process.stderr).text();
  const reader = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const writer = process.stdin.getWriter();
  let text = "";
  return {
    process,
    async line() {
      for (;;) {
        const end = text.indexOf("\n");
        if (end >= 0) {
          const line = text.slice(0, end);
          text = text.slice(end + 1);
          return JSON.parse(line);
        }
        const { value, done } = await mustSettle(reader.read(), 20_000, "a line from the child");
        if (done) assert.fail(`the child ended: ${await stderr}`);
        text += value;
      }
    },
    send: (command) => writer.write(encoder.encode(command + "\n")),
    async [Symbol.asyncDispose]() {
      await writer.close().catch(() => {});
      try {
        process.kill();
      } catch { /* exited */ }
      await process.status;
      await reader.cancel().catch(() => {});
      await stderr;
    },
  };
}

for (const mode of ["serve", "iterate"]) {
  Deno.test({
    name: `EMFILE: ${mode} survives running out of descriptors and serves once they are free`,
    ...needs("bash"),
    fn: async () => {
      await using child = startChild(
        "ulimit -n 256 && ",
        ["--allow-net", "--allow-read"],
        "emfile",
        mode,
      );
      const { port } = await child.line() as { port: number };
      // The kernel completes these in the backlog; every accept of them fails with EMFILE.
      const clients = await Promise.all([0, 1, 2].map(() => dial({ hostname: "127.0.0.1", port })));
      try {
        const greetings = clients.map((c) => readAtLeast(c, 3));
        await child.send("wait");
        const { retries } = await child.line() as { retries: number };
        if (mode === "serve") assert.ok(retries >= 6, `retries: ${retries}`);
        await mustNotSettle(Promise.any(greetings), 50, "a greeting while descriptors are out");
        await child.send("free");
        await child.line();
        const texts = await mustSettle(Promise.all(greetings), 3000, "greetings once freed");
        assert.deepEqual(texts.map((t) => decoder.decode(t)), ["ok\n", "ok\n", "ok\n"]);
      } finally {
        for (const c of clients) c.close();
      }
      await child.send("end");
      const end = await child.line();
      assert.equal(end.accepted, 3);
      assert.equal(end.errors, 0);
      if (mode === "serve") assert.ok((end.acceptRetries as number) >= 6);
      assert.equal((await child.process.status).code, 0);
    },
  });
}

Deno.test({
  name: "SIGTERM: the child's handler shuts down gracefully: idle now, busy finished, stuck forced",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    // Without --allow-ffi: the runtime-read path of the idle hook.
    await using child = startChild("", ["--allow-net"], "sigterm");
    const { port } = await child.line() as { port: number };
    const addr = { hostname: "127.0.0.1", port };
    await using idle = await dial(addr);
    await using busy = await dial(addr);
    await using stuck = await dial(addr);
    for (const c of [idle, busy, stuck]) {
      assert.equal(decoder.decode(await readAtLeast(c, 3)), "ok\n");
    }
    await stuck.write(encoder.encode("flood\n"));
    await readAtLeast(stuck, 1);
    await busy.write(encoder.encode("slow\n"));
    assert.equal(decoder.decode(await readAtLeast(busy, 8)), "working\n");
    const start = performance.now();
    child.process.kill("SIGTERM");
    const idleEnd = await mustSettle(idle.read(new Uint8Array(1)), 1000, "the idle conn's EOF");
    const idleMs = performance.now() - start;
    assert.equal(idleEnd, null);
    assert.equal(decoder.decode(await readAtLeast(busy, 5)), "done\n");
    const result = await child.line();
    assert.equal(result.finished, 2);
    assert.equal(result.forced, 1);
    assert.ok((result.ms as number) >= 900, `forced after the 1000 ms timeout: ${result.ms}`);
    assert.equal((await child.process.status).code, 0);
    console.log(
      `SIGTERM: idle conn closed after ${idleMs.toFixed(1)} ms; shutdown took ${result.ms} ms`,
    );
  },
});

/** A handler that sends `size` bytes, then waits in read until EOF. */
function sender(size: number): (conn: Conn) => Promise<void> {
  return async (conn) => {
    await conn.write(new Uint8Array(size).fill(7));
    const buf = new Uint8Array(64);
    while (await conn.read(buf) !== null) { /* until EOF */ }
  };
}

Deno.test("a slow client behind FaultProxy gets its whole answer through a shutdown", async () => {
  const size = 4 << 20;
  const errors: unknown[] = [];
  const server = serve("127.0.0.1:0", sender(size), { onError: (e) => void errors.push(e) });
  await using proxy = new FaultProxy(server.addr, {
    faults: [{ kind: "bandwidth", bytesPerSecond: 8 << 20, direction: "downstream" }],
  });
  await using client = await dial(proxy.addr);
  await readAtLeast(client, 1); // the answer is on its way, at 8 MiB/s
  const start = performance.now();
  const result = server.shutdown({ timeout: 10_000 });
  const got = readAtLeast(client, size); // 1 byte was read already: all but one, then EOF
  assert.equal((await mustSettle(got, 10_000, "the whole answer")).length, size - 1);
  assert.deepEqual(await mustSettle(result, 10_000), { finished: 1, forced: 0 });
  const ms = performance.now() - start;
  assert.equal(await mustSettle(client.read(new Uint8Array(1))), null);
  assert.deepEqual(errors, []);
  console.log(`slow client: 4 MiB at 8 MiB/s finished through shutdown in ${ms.toFixed(0)} ms`);
  await server.finished;
});

Deno.test({
  name: "a client reset by FaultProxy during shutdown: its error is reported, shutdown ends",
  ignore: !FaultProxy.resetSupported(),
  fn: async () => {
    const errors: unknown[] = [];
    const server = serve("127.0.0.1:0", sender(16 << 20), { onError: (e) => void errors.push(e) });
    await using proxy = new FaultProxy(server.addr, {
      faults: [{ kind: "bandwidth", bytesPerSecond: 4 << 20, direction: "downstream" }],
    });
    await using client = await dial(proxy.addr);
    await readAtLeast(client, 1);
    const result = server.shutdown({ timeout: 10_000 });
    await mustNotSettle(result, 50, "shutdown while the answer flows");
    proxy.add({ kind: "reset", after: 1, direction: "downstream" }); // resets the open conn
    const start = performance.now();
    assert.deepEqual(await mustSettle(result, 5000), { finished: 1, forced: 0 });
    const ms = performance.now() - start;
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof NetError, String(errors[0]));
    assert.ok(["reset", "broken-pipe"].includes(errors[0].kind), errors[0].kind);
    await mustReject(drain(client), NetError);
    console.log(`reset client: shutdown ended ${ms.toFixed(0)} ms after the reset`);
    await server.finished;
  },
});

Deno.test({
  name: "after 20,000 conns served, descriptors and heap are back (bench/server_conns.ts)",
  ignore: Deno.build.os !== "linux", // it counts /proc/self/fd
  fn: async () => {
    // 20,000 here to keep the suite short; `deno task bench:conns` runs 100,000.
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        new URL("../bench/server_conns.ts", import.meta.url).pathname,
        "--conns=20000",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = decoder.decode(out.stdout) + decoder.decode(out.stderr);
    assert.equal(out.code, 0, text);
    assert.match(text, /descriptors and heap came back/);
    assert.match(text, /errors 0/);
  },
});

/** Skips, with a message once, when redis-benchmark (Debian's redis-tools) is missing. */
const REDIS_BENCHMARK = needs("redis-benchmark");

Deno.test({
  name: "redis-benchmark with 50 clients against the RESP example on serve(): no errors",
  ...REDIS_BENCHMARK,
  fn: async () => {
    await using server = serveResp("127.0.0.1:0");
    const out = await new Deno.Command("redis-benchmark", {
      args: ["-h", "127.0.0.1", "-p", `${server.addr.port}`, "-c", "50", "-n", "5000"]
        .concat(["-t", "ping,set,get", "--csv"]),
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = decoder.decode(out.stdout);
    const stderr = decoder.decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.doesNotMatch(stdout + stderr, /error/i);
    const tests = stdout.split("\n").slice(1).filter((l) => l !== "").map((l) => l.split(",")[0]);
    assert.deepEqual(tests, ['"PING_INLINE"', '"PING_MBULK"', '"SET"', '"GET"']);
    assert.equal(server.stats().errors, 0);
    assert.ok(server.stats().accepted >= 50);
  },
});

Deno.test("the RESP example answers PING, SET, GET, pipelined and split, and refuses garbage", async () => {
  await using server = serveResp("127.0.0.1:0");
  await using client = await dial(server.addr);
  const ask = async (text: string, want: string) => {
    await client.write(encoder.encode(text));
    assert.equal(decoder.decode(await readAtLeast(client, want.length)), want);
  };
  await ask("*1\r\n$4\r\nPING\r\n", "+PONG\r\n");
  await ask("PING\r\n", "+PONG\r\n");
  await ask(
    "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
    "+OK\r\n$5\r\nhello\r\n",
  );
  await ask("*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n", "$-1\r\n");
  // A command split across writes waits for its rest.
  await client.write(encoder.encode("*2\r\n$3\r\nGE"));
  await ask("T\r\n$1\r\nk\r\n", "$5\r\nhello\r\n");
  await ask("*1\r\n$3\r\nDEL\r\n", "-ERR unknown command 'DEL'\r\n");
  await ask("*1\r\n$x\r\n", "-ERR Protocol error: bad number\r\n");
  assert.equal(await client.read(new Uint8Array(1)), null); // the session ended
});

Deno.test("the chat example passes lines between clients and shuts down with them idle", async () => {
  const server = serveChat("127.0.0.1:0");
  await using a = await dial(server.addr);
  const welcome = (n: number) => `* welcome, ${a.localAddr}; ${n} here\n`;
  assert.equal(decoder.decode(await readAtLeast(a, welcome(1).length)), welcome(1));
  await using b = await dial(server.addr);
  const joined = `* ${b.localAddr} joined\n`;
  assert.equal(decoder.decode(await readAtLeast(a, joined.length)), joined);
  const bWelcome = `* welcome, ${b.localAddr}; 2 here\n`;
  assert.equal(decoder.decode(await readAtLeast(b, bWelcome.length)), bWelcome);
  await a.write(encoder.encode("hi there\n"));
  const said = `${a.localAddr}: hi there\n`;
  assert.equal(decoder.decode(await readAtLeast(b, said.length)), said);
  assert.deepEqual(await mustSettle(server.shutdown({ timeout: 5000 }), 2000), {
    finished: 2,
    forced: 0,
  });
  // Each saw the other leave (or the close came first), then EOF.
  await mustSettle(drain(a));
  await mustSettle(drain(b));
});

Deno.test("a second shutdown with a shorter timeout forces sooner; both get the same result", async () => {
  const server = lineServer();
  await using stuck = await greeted(server);
  await stuck.write(encoder.encode("flood\n"));
  await readAtLeast(stuck, 1);
  const long = server.shutdown({ timeout: 60_000 });
  await mustNotSettle(long, 50, "the long shutdown");
  const short = server.shutdown({ timeout: 10 });
  assert.deepEqual(await mustSettle(short, 2000), { finished: 0, forced: 1 });
  assert.deepEqual(await long, { finished: 0, forced: 1 });
  await server.finished;
});

Deno.test("a server whose listener is closed under it stops as by shutdown", async () => {
  const ln = listen("127.0.0.1:0");
  const server = serve(ln, echo);
  await using client = await dial(ln.addr);
  assert.equal(await roundTrip(client, "before"), "before");
  ln.close();
  // The open conn was idle: closed, as a shutdown would; then finished.
  assert.equal(await mustSettle(client.read(new Uint8Array(1))), null);
  await mustSettle(server.finished);
  assert.deepEqual(await server.shutdown(), { finished: 1, forced: 0 });
});

Deno.test("new Server checks its arguments as serve does", async () => {
  await using ln = listen("127.0.0.1:0");
  assert.throws(
    () => new Server(null as never, echo),
    /new Server takes a netconn Listener: received null/,
  );
  assert.throws(() => new Server(ln, 5 as never), /new Server takes a handler function/);
  assert.throws(
    () => new Server(ln, echo, { idleTimout: 5 } as never),
    /new Server has no option "idleTimout"/,
  );
  assert.throws(
    () => new Server(ln, echo, { maxConns: -1 }),
    /new Server option "maxConns" must be an integer >= 1/,
  );
  await using _server = new Server(ln, echo);
  await using client = await dial(ln.addr);
  assert.equal(await roundTrip(client, "direct"), "direct");
});

Deno.test({
  name: "serve on IPv6 loopback",
  ignore: !ipv6Available(),
  fn: async () => {
    await using server = serve("[::1]:0", echo);
    assert.equal(server.addr.hostname, "::1");
    await using client = await dial(server.addr);
    assert.equal(await roundTrip(client, "six"), "six");
    assert.deepEqual(await server.shutdown({ timeout: 1000 }), { finished: 1, forced: 0 });
  },
});
