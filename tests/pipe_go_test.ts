// pipe() beside Go's net.Pipe: the cases of go/pipe/main.go, run over
// netconn's pipe() and printed the same way, one line a case. GO is what
// the Go program printed (go1.19.8 linux/amd64); when Go is on PATH the test
// runs it and checks that it still prints GO.
import assert from "node:assert/strict";
import { NetError, pipe, type PipeConn } from "../mod.ts";
import { buildGo, isBuilt } from "../_kit/go.ts";
import { output } from "../_kit/child.ts";

const GO = [
  "10-byte write, read 1 of 4 bytes: read ok 4, write pending",
  "10-byte write, read 2 of 4 bytes: read ok 4, write pending",
  "10-byte write, read 3 of 4 bytes: read ok 2, write ok 10",
  "write deadline before any read: write timeout 0, later read timeout 0",
  "reader takes 1000 of 10000 and closes: read ok 1000, write closed 1000",
  "write deadline after 4 of 10 read: read ok 4, write timeout 4, later read timeout 0",
  "empty write: alone pending; with a read of 8: write ok 0, read ok 0",
  "empty read: alone pending; with a write of 5: read ok 0, write pending, next read ok 5, write ok 5",
  "empty read meets empty write: read ok 0, write ok 0",
  "empty read after the peer closed: eof",
  "close: peer's waiting read eof, peer's waiting write closed 0, own read closed 0, peer's next write closed 0",
  "read timed out: read timeout 0; a write after it pending; next read ok 4, write ok 4",
];

/**
 * netconn's one decision against Go: a read of a non-empty buffer never
 * returns 0, so the read an empty write met goes on waiting for bytes.
 */
const NETCONN = GO.map((line) =>
  line.startsWith("empty write:")
    ? "empty write: alone pending; with a read of 8: write ok 0, read pending"
    : line
);

const SHORT = 50;
const LONG = 2000;

/** An outcome as go/pipe prints it. */
function classOf(outcome: { value: number | null } | { error: unknown }): string {
  if ("value" in outcome) return outcome.value === null ? "eof" : `ok ${outcome.value}`;
  const e = outcome.error;
  if (!(e instanceof NetError)) return `error ${e}`;
  const counts = e.op === "write" ? e.bytesWritten : e.bytesRead;
  if (e.timeout) return `timeout ${counts}`;
  if (e.kind === "closed" || e.kind === "broken-pipe") return `closed ${counts}`;
  return `error ${e.message}`;
}

/** The outcome of `p` if it settles within `ms`, else "pending"; never leaves a timer. */
async function within(p: Promise<number | null>, ms: number): Promise<string> {
  let id: ReturnType<typeof setTimeout> | undefined;
  const timer = new Promise<string>((resolve) => id = setTimeout(() => resolve("pending"), ms));
  try {
    return await Promise.race([
      p.then((value) => classOf({ value }), (error) => classOf({ error })),
      timer,
    ]);
  } finally {
    clearTimeout(id);
  }
}

/** Runs `body` on a fresh pipe and closes both ends after. */
async function onPipe(body: (a: PipeConn, b: PipeConn) => Promise<string[]>): Promise<string[]> {
  const [a, b] = pipe();
  try {
    return await body(a, b);
  } finally {
    await a[Symbol.asyncDispose]();
    await b[Symbol.asyncDispose]();
  }
}

const bytes = (n: number) => new Uint8Array(n);
const text = (s: string) => new TextEncoder().encode(s);

/** The cases of go/pipe/main.go over pipe(), in order. */
async function netconnLines(): Promise<string[]> {
  const lines: string[] = [];
  lines.push(
    ...await onPipe(async (a, b) => {
      const w = a.write(bytes(10));
      const out: string[] = [];
      for (let i = 1; i <= 3; i++) {
        const r = await within(b.read(bytes(4)), LONG);
        out.push(`10-byte write, read ${i} of 4 bytes: read ${r}, write ${await within(w, SHORT)}`);
      }
      return out;
    }),
  );
  lines.push(
    ...await onPipe(async (a, b) => {
      a.setWriteDeadline(Date.now() + 20);
      const w = await within(a.write(bytes(10)), LONG);
      b.setReadDeadline(Date.now() + SHORT);
      const r = await within(b.read(bytes(10)), LONG);
      return [`write deadline before any read: write ${w}, later read ${r}`];
    }),
  );
  lines.push(
    ...await onPipe(async (a, b) => {
      const w = a.write(bytes(10000));
      const r = await within(b.read(bytes(1000)), LONG);
      b.close();
      return [
        `reader takes 1000 of 10000 and closes: read ${r}, write ${await within(w, LONG)}`,
      ];
    }),
  );
  lines.push(
    ...await onPipe(async (a, b) => {
      a.setWriteDeadline(Date.now() + SHORT);
      const w = a.write(bytes(10));
      const r = await within(b.read(bytes(4)), LONG);
      const ws = await within(w, LONG);
      b.setReadDeadline(Date.now() + SHORT);
      const later = await within(b.read(bytes(10)), LONG);
      return [`write deadline after 4 of 10 read: read ${r}, write ${ws}, later read ${later}`];
    }),
  );
  lines.push(
    ...await onPipe(async (a, b) => {
      const w = a.write(bytes(0));
      const alone = await within(w, SHORT);
      const r = b.read(bytes(8));
      const ws = await within(w, LONG);
      const rs = await within(r, SHORT);
      return [`empty write: alone ${alone}; with a read of 8: write ${ws}, read ${rs}`];
    }),
  );
  lines.push(
    ...await onPipe(async (a, b) => {
      const r = b.read(bytes(0));
      const alone = await within(r, SHORT);
      const w = a.write(text("hello"));
      const rs = await within(r, LONG);
      const ws = await within(w, SHORT);
      const next = await within(b.read(bytes(8)), LONG);
      return [
        `empty read: alone ${alone}; with a write of 5: read ${rs}, write ${ws}, next read ${next}, write ${await within(
          w,
          LONG,
        )}`,
      ];
    }),
  );
  lines.push(
    ...await onPipe(async (a, b) => {
      const r = b.read(bytes(0));
      const w = a.write(bytes(0));
      const out = [
        `empty read meets empty write: read ${await within(r, LONG)}, write ${await within(
          w,
          LONG,
        )}`,
      ];
      a.close();
      out.push(`empty read after the peer closed: ${await within(b.read(bytes(0)), LONG)}`);
      return out;
    }),
  );
  lines.push(
    ...await onPipe(async (a, b) => {
      const r = b.read(bytes(8));
      const w = b.write(text("x"));
      a.close();
      const rs = await within(r, LONG);
      const ws = await within(w, LONG);
      const own = await within(a.read(bytes(1)), LONG);
      const next = await within(b.write(text("x")), LONG);
      return [
        `close: peer's waiting read ${rs}, peer's waiting write ${ws}, own read ${own}, peer's next write ${next}`,
      ];
    }),
  );
  lines.push(
    ...await onPipe(async (a, b) => {
      b.setReadDeadline(Date.now() + 20);
      const r = await within(b.read(bytes(8)), LONG);
      const w = a.write(text("kept"));
      const alone = await within(w, SHORT);
      b.setReadDeadline(null);
      const next = await within(b.read(bytes(8)), LONG);
      return [
        `read timed out: read ${r}; a write after it ${alone}; next read ${next}, write ${await within(
          w,
          LONG,
        )}`,
      ];
    }),
  );
  return lines;
}

Deno.test("pipe() beside Go's net.Pipe: the same outcomes, case by case, but the one decision", async () => {
  assert.deepEqual(await netconnLines(), NETCONN);
});

Deno.test({
  name: "Go's net.Pipe still prints what the pipe() test compares with (when Go is on PATH)",
  ignore: Deno.permissions.querySync({ name: "run" }).state !== "granted",
  fn: async (t) => {
    const go = await buildGo("pipe", { task: "`deno task test`" });
    if (!isBuilt(go)) {
      await t.step({ name: `skipped: ${go.reason}`, ignore: true, fn: () => {} });
      return;
    }
    const lines = (await output([go.binary])).trimEnd().split("\n");
    assert.deepEqual(lines, GO);
  },
});
