// toxiproxy's REST API served by netconn's Toxiproxy, driven by a client
// nobody here wrote: npm:toxiproxy-node-client creates, lists, changes and
// deletes proxies and toxics, and each toxic is measured through a real
// conn on loopback, within 10% of what was asked (sizes and counts exactly).
//
// Run: deno test --allow-net --allow-ffi --allow-read --allow-env tests/testing/toxiproxy_test.ts

import assert from "node:assert/strict";
import { type Conn, dial, listen, type Listener, NetError } from "../../mod.ts";
import { FaultProxy, Toxiproxy as Server, type ToxiproxyError } from "../../testing/mod.ts";
// A dev-only client nobody here wrote; the package has no import map.
// deno-lint-ignore no-import-prefix
import { Toxiproxy as Client } from "npm:toxiproxy-node-client@4.1.0";
import { eventually, mustNotSettle, mustSettle } from "../../_kit/wait.ts";
import { readFull } from "../../_kit/bytes.ts";
import { mean } from "../../_kit/stats.ts";

/** Asserts `got` is within `pct` percent of `want`. */
function near(got: number, want: number, what: string, pct = 10): void {
  const off = Math.abs(got - want) / want * 100;
  assert.ok(
    off <= pct,
    `${what}: asked ${want}, measured ${got.toFixed(1)} (${off.toFixed(1)}% off)`,
  );
}

/** A Toxiproxy serving its API on loopback, a client of it, and an upstream listener. */
interface Lab extends AsyncDisposable {
  server: Server;
  client: Client;
  upstream: Listener;
  /** The upstream as a proxy's `upstream` field. */
  target: string;
  /** Dials `listen` (a proxy's address) and accepts the upstream's side. */
  connect(listen: string): Promise<[Conn, Conn]>;
}

function lab(seed = 7): Lab {
  const server = new Server({ seed });
  const api = server.serve("127.0.0.1:0");
  const upstream = listen("127.0.0.1:0");
  const opened: Conn[] = [];
  return {
    server,
    client: new Client(`http://127.0.0.1:${api.port}`),
    upstream,
    target: `127.0.0.1:${upstream.addr.port}`,
    async connect(at: string): Promise<[Conn, Conn]> {
      const client = await dial(at);
      const peer = await upstream.accept();
      opened.push(client, peer);
      return [client, peer];
    },
    async [Symbol.asyncDispose]() {
      for (const c of opened) await c[Symbol.asyncDispose]();
      await server.close();
      await upstream[Symbol.asyncDispose]();
    },
  };
}

/** Milliseconds from `peer` writing `n` bytes to `client` having read them all. */
async function oneWay(peer: Conn, client: Conn, n = 1): Promise<number> {
  const start = performance.now();
  await Promise.all([peer.write(new Uint8Array(n)), readFull(client, new Uint8Array(n))]);
  return performance.now() - start;
}

/** Reads until EOF (null) or an error; returns the read sizes and how it ended. */
async function readAll(conn: Conn): Promise<{ sizes: number[]; end: "eof" | string }> {
  const sizes: number[] = [];
  const buf = new Uint8Array(64 * 1024);
  try {
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) sizes.push(n);
    return { sizes, end: "eof" };
  } catch (e) {
    return { sizes, end: e instanceof NetError ? e.kind : String(e) };
  }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

Deno.test("toxiproxy API: the node client creates, lists, gets, updates and deletes proxies", async () => {
  await using l = lab();
  assert.match(await l.client.getVersion(), /^2\.\d+\.\d+$/);
  const made = await l.client.createProxy({
    name: "db",
    listen: "127.0.0.1:0",
    upstream: l.target,
  });
  assert.equal(made.name, "db");
  assert.equal(made.upstream, l.target);
  assert.equal(made.enabled, true);
  assert.match(made.listen, /^127\.0\.0\.1:\d+$/);
  assert.notEqual(made.listen, "127.0.0.1:0", "the port it got");
  const all = await l.client.getAll();
  assert.deepEqual(Object.keys(all), ["db"]);
  assert.equal((await l.client.get("db")).listen, made.listen);

  const [c, p] = await l.connect(made.listen);
  assert.ok(await oneWay(p, c) < 50);

  // Disabled: the port is closed, dials are refused for real; open conns closed.
  const off = await made.update({ enabled: false, listen: made.listen, upstream: l.target });
  assert.equal(off.enabled, false);
  await assert.rejects(dial(made.listen), (e: NetError) => e.kind === "refused");
  assert.equal((await readAll(c)).end, "eof");
  // Enabled again: the same port.
  const on = await made.update({ enabled: true, listen: made.listen, upstream: l.target });
  assert.equal(on.listen, made.listen);
  const [c2, p2] = await l.connect(made.listen);
  assert.ok(await oneWay(p2, c2) < 50);

  await made.remove();
  assert.deepEqual(Object.keys(await l.client.getAll()), []);
  await assert.rejects(dial(made.listen), (e: NetError) => e.kind === "refused");
  await assert.rejects(l.client.get("db"), /status code 404/);
});

Deno.test("toxiproxy API: errors answer toxiproxy's shape and status, and change nothing", async () => {
  await using l = lab();
  await l.client.createProxy({ name: "a", listen: "127.0.0.1:0", upstream: l.target });
  await assert.rejects(
    l.client.createProxy({ name: "a", listen: "127.0.0.1:0", upstream: l.target }),
    /status code 409/,
  );
  for (const upstream of ["127.0.0.1::6379", "a b:80", "127.0.0.1:0", "nope"]) {
    await assert.rejects(
      l.client.createProxy({ name: "b", listen: "127.0.0.1:0", upstream }),
      /status code 400/,
      upstream,
    );
  }
  const direct = async (method: string, path: string, body?: unknown) => {
    const res = await l.server.handle(
      new Request(`http://x${path}`, {
        method,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    );
    return { status: res.status, body: res.status === 204 ? null : await res.json() };
  };
  assert.deepEqual(await direct("GET", "/proxies/nope"), {
    status: 404,
    body: { error: "proxy not found", status: 404 },
  });
  assert.deepEqual((await direct("POST", "/proxies/a/toxics", { type: "nope" })).status, 400);
  assert.deepEqual(
    (await direct("POST", "/proxies/a/toxics", { type: "latency", attributes: { lag: 1 } }))
      .body.error,
    'a latency toxic has no attribute "lag" (it takes latency, jitter)',
  );
  assert.equal(
    (await direct("POST", "/proxies/a/toxics", { type: "slicer", attributes: {} })).status,
    400,
    "a slicer of average size 0",
  );
  assert.equal(
    (await direct("POST", "/proxies/a/toxics", { type: "latency", toxicity: 2 })).status,
    400,
  );
  assert.equal((await direct("GET", "/proxies/a/toxics/nope")).status, 404);
  assert.equal((await direct("PUT", "/proxies")).status, 405);
  assert.equal((await direct("GET", "/nowhere")).status, 404);
  assert.deepEqual(l.server.toxics("a"), [], "nothing was added");
  // A change that fails leaves the proxy as it was: still listening where it did.
  const before = l.server.proxy("a");
  const taken = (await direct("POST", "/proxies/a", { listen: l.target })).body;
  assert.match(taken.error, /address already in use/);
  assert.deepEqual(l.server.proxy("a"), before);
  const [c, p] = await l.connect(before.listen);
  await p.write(new Uint8Array(1));
  assert.equal(await c.read(new Uint8Array(1)), 1);
  assert.equal((await direct("POST", "/proxies", [1, 2])).body.error, "a proxy is an object");
  // The in-process form throws the same errors.
  await assert.rejects(
    l.server.addToxic("nope", { type: "latency" }),
    (e: ToxiproxyError) => e.status === 404,
  );
});

Deno.test("toxiproxy API: toxics added, listed, got, updated and removed through the client", async () => {
  await using l = lab();
  const proxy = await l.client.createProxy({
    name: "t",
    listen: "127.0.0.1:0",
    upstream: l.target,
  });
  const toxic = await proxy.addToxic({
    type: "latency",
    name: "slow",
    stream: "upstream",
    toxicity: 1,
    attributes: { latency: 30, jitter: 0 },
  } as never);
  assert.deepEqual(toxic.toJson(), {
    name: "slow",
    type: "latency",
    stream: "upstream",
    toxicity: 1,
    attributes: { latency: 30, jitter: 0 },
  });
  const got = await proxy.getToxic("slow");
  assert.deepEqual(got.toJson(), toxic.toJson());
  const changed = await got.update({ attributes: { latency: 60 } } as never);
  assert.deepEqual(changed.attributes, { latency: 60, jitter: 0 }, "the jitter kept");
  const fetched = await l.client.get("t");
  assert.ok(fetched instanceof Object);
  assert.deepEqual(l.server.proxy("t").toxics.map((t) => t.name), ["slow"]);
  const listed = await l.server.handle(new Request("http://x/proxies/t/toxics"));
  assert.deepEqual((await listed.json()).map((t: { name: string }) => t.name), ["slow"]);
  await changed.remove();
  assert.deepEqual(l.server.proxy("t").toxics, []);

  // Populate makes or keeps proxies; reset enables them all and removes every toxic.
  const populated = await l.client.populate([
    { name: "t", listen: "127.0.0.1:0", upstream: l.target },
    { name: "u", listen: "127.0.0.1:0", upstream: l.target, enabled: false },
  ]);
  assert.deepEqual(Object.keys(populated).sort(), ["t", "u"]);
  assert.equal(populated.u!.enabled, false);
  await l.server.addToxic("t", { type: "silence" });
  await l.client.reset();
  assert.equal(l.server.proxy("u").enabled, true);
  assert.deepEqual(l.server.proxy("t").toxics, []);
});

Deno.test("toxiproxy toxics measure as asked: latency, bandwidth, slow_close", async () => {
  await using l = lab();
  const proxy = await l.client.createProxy({
    name: "m",
    listen: "127.0.0.1:0",
    upstream: l.target,
  });
  const [c, p] = await l.connect(proxy.listen);
  await eventually(async () => {
    const toxic = await proxy.addToxic({
      type: "latency",
      stream: "downstream",
      attributes: { latency: 60, jitter: 0 },
    } as never);
    const down: number[] = [];
    for (let i = 0; i < 4; i++) down.push(await oneWay(p, c));
    const up = await oneWay(c, p);
    await toxic.remove();
    near(mean(down), 60, "latency downstream");
    assert.ok(up < 20, `upstream untouched: ${up} ms`);
  }, { start: 1, cap: 3 });

  await eventually(async () => {
    const toxic = await proxy.addToxic({
      type: "bandwidth",
      stream: "downstream",
      attributes: { rate: 200 },
    } as never); // 200 KB/s
    const ms = await oneWay(p, c, 60_000);
    await toxic.remove();
    near(60_000 / ms, 200, "bandwidth in bytes/ms (KB/s)");
  }, { start: 1, cap: 3 });

  await eventually(async () => {
    const toxic = await proxy.addToxic({
      type: "slow_close",
      stream: "downstream",
      attributes: { delay: 120 },
    } as never);
    const [c2, p2] = await l.connect(proxy.listen);
    const start = performance.now();
    await p2.closeWrite();
    const end = await readAll(c2);
    const ms = performance.now() - start;
    await toxic.remove();
    assert.equal(end.end, "eof");
    near(ms, 120, "slow_close delay");
  }, { start: 1, cap: 3 });
});

Deno.test("toxiproxy toxics measure as asked: timeout drops data then closes; 0 holds until removed", async () => {
  await using l = lab();
  const proxy = await l.client.createProxy({
    name: "to",
    listen: "127.0.0.1:0",
    upstream: l.target,
  });
  await eventually(async () => {
    const [c, p] = await l.connect(proxy.listen);
    const toxic = await proxy.addToxic({ type: "timeout", attributes: { timeout: 150 } } as never);
    const start = performance.now();
    await p.write(new Uint8Array(10)); // dropped
    const end = await mustSettle(readAll(c), 2000, "the client's reads");
    const ms = performance.now() - start;
    await toxic.remove();
    assert.deepEqual(end, { sizes: [], end: "eof" }, "nothing came, then EOF");
    near(ms, 150, "timeout");
  }, { start: 1, cap: 3 });

  const [c, p] = await l.connect(proxy.listen);
  const toxic = await proxy.addToxic({ type: "timeout", attributes: { timeout: 0 } } as never);
  await p.write(new Uint8Array([1, 2, 3])); // dropped, not held
  const reading = c.read(new Uint8Array(8));
  await mustNotSettle(reading, 200, "a read under timeout 0");
  await toxic.remove();
  await p.write(new Uint8Array([4]));
  assert.equal(await mustSettle(reading, 2000, "a read after the toxic went"), 1);
});

Deno.test("toxiproxy toxics measure as asked: limit_data closes both ways after exactly N bytes", async () => {
  await using l = lab();
  const proxy = await l.client.createProxy({
    name: "ld",
    listen: "127.0.0.1:0",
    upstream: l.target,
  });
  const [c, p] = await l.connect(proxy.listen);
  await proxy.addToxic({ type: "limit_data", attributes: { bytes: 100 } } as never);
  await p.write(new Uint8Array(300)).catch(() => {});
  const [down, up] = await Promise.all([readAll(c), readAll(p)]);
  assert.equal(sum(down.sizes), 100);
  assert.equal(down.end, "eof");
  assert.equal(up.end === "eof" || up.end === "reset", true, `the upstream side closed: ${up.end}`);
});

Deno.test("toxiproxy toxics measure as asked: reset_peer resets after its timeout", async () => {
  await using l = lab();
  const proxy = await l.client.createProxy({
    name: "rp",
    listen: "127.0.0.1:0",
    upstream: l.target,
  });
  await eventually(async () => {
    const [c] = await l.connect(proxy.listen);
    const toxic = await proxy.addToxic(
      { type: "reset_peer", attributes: { timeout: 100 } } as never,
    );
    const start = performance.now();
    const end = await mustSettle(readAll(c), 2000, "the client's read");
    const ms = performance.now() - start;
    await toxic.remove();
    assert.equal(end.end, FaultProxy.resetSupported() ? "reset" : "eof");
    near(ms, 100, "reset_peer timeout");
  }, { start: 1, cap: 3 });
});

Deno.test("toxiproxy toxics measure as asked: slicer sizes vary around the average, and a seed replays them", async () => {
  const sizes = async (seed: number): Promise<number[]> => {
    await using l = lab(seed);
    const proxy = await l.client.createProxy({
      name: "s",
      listen: "127.0.0.1:0",
      upstream: l.target,
    });
    await proxy.addToxic({
      type: "slicer",
      attributes: { average_size: 10, size_variation: 5, delay: 10_000 }, // delay in µs: 10 ms
    } as never);
    const [c, p] = await l.connect(proxy.listen);
    await p.write(new Uint8Array(200));
    await p.closeWrite();
    return (await readAll(c)).sizes;
  };
  const a = await sizes(42);
  assert.equal(sum(a), 200);
  for (const n of a.slice(0, -1)) assert.ok(n >= 5 && n <= 15, `a slice of ${n} bytes`);
  assert.ok(new Set(a).size > 3, `sizes vary: ${a}`);
  assert.deepEqual(await sizes(42), a, "the same seed, the same slices");
  assert.notDeepEqual(await sizes(43), a, "another seed, other slices");
});

Deno.test("toxiproxy toxicity: about that share of conns get the toxic, and a seed replays which", async () => {
  const pattern = async (seed: number): Promise<boolean[]> => {
    await using l = lab(seed);
    const proxy = await l.client.createProxy({
      name: "x",
      listen: "127.0.0.1:0",
      upstream: l.target,
    });
    await proxy.addToxic({ type: "latency", toxicity: 0.5, attributes: { latency: 80 } } as never);
    const got: boolean[] = [];
    for (let i = 0; i < 20; i++) {
      const [c, p] = await l.connect(proxy.listen);
      got.push(await oneWay(p, c) >= 60);
    }
    return got;
  };
  const a = await pattern(5);
  const share = a.filter((x) => x).length;
  assert.ok(share >= 4 && share <= 16, `${share} of 20 conns got a toxicity 0.5 toxic`);
  assert.deepEqual(await pattern(5), a, "the same seed, the same conns");
});

Deno.test("toxiproxy: netconn's own faults as toxics (silence, cut, refuse)", async () => {
  await using l = lab();
  await l.server.createProxy({ name: "n", upstream: l.target });
  const at = l.server.proxy("n").listen;
  const [c, p] = await l.connect(at);
  await l.server.addToxic("n", { type: "silence" });
  await p.write(new Uint8Array(5));
  const reading = c.read(new Uint8Array(8));
  await mustNotSettle(reading, 100, "a read under silence");
  await l.server.removeToxic("n", "silence_downstream");
  assert.equal(await mustSettle(reading, 2000, "the held bytes"), 5);
  await l.server.addToxic("n", { type: "cut", attributes: { after: 3 } });
  await p.write(new Uint8Array(10));
  assert.deepEqual(await readAll(c), { sizes: [3], end: "eof" });
  await l.server.addToxic("n", { type: "refuse" });
  const refused = await dial(at);
  assert.equal(await refused.read(new Uint8Array(1)), null);
  await refused[Symbol.asyncDispose]();
});

Deno.test("Toxiproxy: bad options are a TypeError or RangeError", () => {
  assert.throws(() => new Server({ sed: 1 } as never), TypeError);
  assert.throws(() => new Server({ seed: -1 }), RangeError);
  assert.throws(() => new Server({ seed: "1" as never }), TypeError);
});
