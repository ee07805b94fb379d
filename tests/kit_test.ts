// The shared helper kit (_kit/) that the tests, the probe and the bench stand
// on: every pair it opens talks both ways and closes without a leak (Deno's
// sanitizers are on), the waits tell pending from settled, and the byte and
// number helpers give what their names say.

import assert from "node:assert/strict";
import { drain, ramp, rampMismatch, readFull } from "../_kit/bytes.ts";
import { Lab } from "../_kit/lab.ts";
import {
  pair,
  pipePair,
  rawPair,
  rawTlsPair,
  rawUnixPair,
  tlsPair,
  unixPair,
} from "../_kit/loopback.ts";
import { machine } from "../_kit/measured.ts";
import { median, quantile } from "../_kit/stats.ts";
import { markdownTable } from "../_kit/table.ts";
import { delay, failure, mustNotSettle, PENDING, settlesWithin, within } from "../_kit/wait.ts";

/** One byte each way. */
async function bothWays(
  a: { read(p: Uint8Array): Promise<number | null>; write(p: Uint8Array): Promise<number> },
  b: { read(p: Uint8Array): Promise<number | null>; write(p: Uint8Array): Promise<number> },
): Promise<void> {
  const one = new Uint8Array(1);
  await Promise.all([a.write(Uint8Array.of(7)), readFull(b, one)]);
  assert.equal(one[0], 7);
  await Promise.all([b.write(Uint8Array.of(9)), readFull(a, one)]);
  assert.equal(one[0], 9);
}

Deno.test("kit: netconn pairs over TCP, TLS, unix and pipe talk both ways and close", async () => {
  for (const make of [() => pair(), () => tlsPair(), () => unixPair(), () => pipePair()]) {
    await using p = await make();
    await bothWays(p.client, p.server);
  }
});

Deno.test("kit: raw Deno pairs over TCP, TLS and unix talk both ways and close", async () => {
  for (const make of [() => rawPair({ noDelay: true }), rawTlsPair, rawUnixPair]) {
    using p = await make();
    await bothWays(p.client, p.server);
  }
});

Deno.test("kit: a closed Lab closes what it opened and refuses more", async () => {
  const lab = new Lab();
  const { client, server } = await lab.pair();
  const read = server.read(new Uint8Array(1));
  await lab.close();
  assert.ok(await failure(read) instanceof Error, "the pending read ended");
  assert.ok(await failure(client.write(Uint8Array.of(1))) instanceof Error);
  assert.throws(() => lab.listen());
});

Deno.test("kit: waits tell pending from settled and clear their timers", async () => {
  const never = new Promise(() => {});
  assert.equal(await within(never, 5), PENDING);
  assert.equal(await within(Promise.resolve(3), 1000), 3);
  assert.equal(await settlesWithin(Promise.reject(new Error("x")), 1000), true);
  assert.equal(await settlesWithin(delay(200), 5), false);
  await mustNotSettle(never, 5);
  await delay(200); // the delay above ends before the test does
});

Deno.test("kit: the counting stream, drained and checked", async () => {
  assert.deepEqual([...ramp(4, 254)], [254, 255, 0, 1]);
  assert.equal(rampMismatch(ramp(300, 10), 10), -1);
  assert.equal(rampMismatch(Uint8Array.of(10, 11, 0), 10), 2);
  let off = 0;
  const source = {
    read(p: Uint8Array): Promise<number | null> {
      if (off >= 1000) return Promise.resolve(null);
      const n = Math.min(p.length, 300, 1000 - off);
      p.set(ramp(n, off));
      off += n;
      return Promise.resolve(n);
    },
  };
  assert.deepEqual(await drain(source, { check: true, bufSize: 256 }), {
    bytes: 1000,
    intact: true,
  });
});

Deno.test("kit: medians, quantiles, a Markdown table and the machine", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.equal(quantile([0, 10], 0.25), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.equal(
    markdownTable(["a", "n"], [["x|y", "1"], ["z", "10"]], ["left", "right"]),
    "| a    |  n |\n|------|---:|\n| x\\|y |  1 |\n| z    | 10 |",
  );
  const m = machine("go version go1.19 linux/amd64");
  assert.ok(m.cores >= 1 && m.deno.startsWith("deno ") && m.go !== undefined);
  assert.match(m.date, /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
});
