/**
 * The write-block threshold sweep: how many bytes a netconn write loop gets
 * accepted by a peer that never reads before a write blocks, for a grid of
 * the sender's SO_SNDBUF and the receiver's SO_RCVBUF, with Nagle off (Go's
 * default) and on. The article measured about 679 KB on Darwin with the OS
 * defaults. Needs `--allow-ffi` (the buffer sizes are set through libc).
 *
 * The receiver's size is set on the listening socket before the dial, so the
 * accepted conn inherits it and the window it advertises in the handshake is
 * already sized from it; the row "option: SO_RCVBUF, listener vs accepted
 * conn" shows what changes when it is set on the accepted conn instead.
 *
 * @module
 */

import { type TcpConn, TimeoutError, type TlsConn } from "../mod.ts";
import { setReadBuffer } from "../sockopt/mod.ts";
import type { Experiment, Outcome, ProbeTable } from "./_lab.ts";
import type { Lab as KitLab } from "../_kit/lab.ts";
import type { Lab } from "./_lab.ts";
import type { GoResult } from "./_go.ts";
import { bytes } from "./_cells.ts";
import { settlesWithin, since } from "../_kit/wait.ts";
import { agreement, type Check, near, nearBytes } from "./_agree.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK = 64 * KiB; // client5's 64 KiB writes
const RUNAWAY = 256 * MiB; // a writer that never blocks is broken
/** First write deadline, ms ahead; grown by 5/4 each time a block turns out false. */
const FIRST_WAIT_MS = 50;
/**
 * How long a timed-out write must then stay stuck to count as blocked. Longer
 * than Linux's largest delayed-ACK delay (200 ms): with a small SO_SNDBUF the
 * sender's buffer drains only as ACKs come back.
 */
const CONFIRM_MS = 250;
/** Cells measured at once: a cell mostly waits, on ACK timers and the confirmation. */
const PARALLEL = 6;

/** The buffer sizes asked for; `undefined` leaves the OS default (and its autotuning). */
export const SIZES: readonly (number | undefined)[] = [
  undefined,
  16 * KiB,
  64 * KiB,
  256 * KiB,
  1 * MiB,
  4 * MiB,
];

/** One cell of the grid: what was asked for. */
export interface CellSpec {
  /** The sender's SO_SNDBUF asked for with `setWriteBuffer`; undefined for the default. */
  sndbuf: number | undefined;
  /** The receiver's SO_RCVBUF asked for on the listener; undefined for the default. */
  rcvbuf: number | undefined;
  /** The sender's and receiver's NoDelay. */
  noDelay: boolean;
}

/** One measured cell. */
export interface Cell extends CellSpec {
  /** Bytes the write loop got accepted before a write blocked. */
  threshold: number;
  /** The sender's SO_SNDBUF as the kernel reports it once the writes blocked. */
  kernelSndbuf: number;
  /** The receiver's SO_RCVBUF as the kernel reports it once the writes blocked. */
  kernelRcvbuf: number;
  /** Write deadlines that passed while the socket was still taking bytes (a slow moment). */
  falseBlocks: number;
  /** How long the cell took, in ms. */
  ms: number;
}

/** What {@linkcode fillUntilBlocked} found. */
export interface Filled {
  /** Bytes the OS accepted before a write blocked. */
  accepted: number;
  /** Write deadlines that passed while the socket still took bytes. */
  falseBlocks: number;
}

/**
 * Writes 64 KiB chunks to `conn`, whose peer does not read, until a write
 * blocks; detects the block with a write deadline, as the "write blocking"
 * row does. A timed-out write counts as blocked only when its stranded
 * runtime write then stays pending for CONFIRM_MS; if it completes instead
 * (a busy machine, or an ACK that was late), its bytes count and the loop
 * goes on with a longer deadline. The conn is left with a write stranded
 * (the socket's send buffer full): close it to end that write.
 *
 * @returns The bytes accepted, exact: every full write plus the timed-out
 *   write's `bytesWritten` (its stranded runtime write had taken nothing).
 */
export async function fillUntilBlocked(conn: TcpConn | TlsConn): Promise<Filled> {
  const chunk = new Uint8Array(CHUNK);
  let accepted = 0;
  let falseBlocks = 0;
  let wait = FIRST_WAIT_MS;
  while (accepted < RUNAWAY) {
    conn.setWriteDeadline(Date.now() + wait);
    try {
      accepted += await conn.write(chunk);
      continue;
    } catch (e) {
      if (!(e instanceof TimeoutError)) throw e;
      const settled = e.settled;
      if (settled !== undefined && !(await settlesWithin(settled, CONFIRM_MS))) {
        return { accepted: accepted + (e.bytesWritten ?? 0), falseBlocks };
      }
      accepted += settled === undefined ? e.bytesWritten ?? 0 : await settled;
      falseBlocks++;
      wait = Math.ceil(wait * 5 / 4);
    }
  }
  throw new Error(`No write blocked within ${bytes(RUNAWAY)}`);
}

/** How far apart a threshold may be from Go's and still agree. */
const NEAR = 0.15;

/**
 * A check that a threshold agrees with Go's: within 15%, or lower by less
 * than one 64 KiB write, which {@linkcode strandedThresholds} decides on.
 */
export function thresholdCheck(
  name: string,
  go: number | undefined,
  ours: number | undefined,
): Check {
  const [near, figures] = nearBytes(name, go, ours, NEAR);
  const behind = go !== undefined && ours !== undefined && ours < go && go - ours < CHUNK;
  return [near || behind, figures];
}

/**
 * The decision a threshold row shows when netconn's threshold is lower than
 * Go's by less than one write: after a write timed out, Go's next Write
 * takes at once what the ACKs freed meanwhile, while netconn's next write
 * waits behind the stranded runtime write, which the runtime retries only
 * when epoll says the socket is writable (Linux: free space of at least half
 * of what is queued), so those bytes are not accepted until the peer reads.
 *
 * @param pairs The thresholds by name: Go's, then netconn's.
 */
export function strandedThresholds(
  pairs: [name: string, go: number | undefined, ours: number | undefined][],
): string | undefined {
  const behind = pairs.filter(([, go, ours]) =>
    go !== undefined && ours !== undefined && !near(go, ours, NEAR) && ours < go
  );
  if (behind.length === 0) return undefined;
  const list = behind.map(([name, go, ours]) =>
    `${name}: Go ${bytes(go!)}, netconn ${bytes(ours!)}`
  )
    .join("; ");
  return `${list}: after a write timed out, Go's next Write takes at once what the ACKs freed, ` +
    "while netconn's next write waits behind the stranded runtime write, which Deno retries only " +
    "when epoll says the socket is writable (half its buffer free): Deno cannot cancel a runtime " +
    "write (docs/probe.md, Decisions)";
}

/** Options for {@linkcode measureCell}. */
export interface MeasureOptions {
  /**
   * Where the receiver's SO_RCVBUF is set: on the listening socket before
   * the dial (accepted conns inherit it), or on the accepted conn before any
   * data flows.
   *
   * @default {"listener"}
   */
  rcvbufOn?: "listener" | "accepted";
}

/** Measures one cell on a fresh listener and conn pair, closed before it returns. */
export async function measureCell(
  lab: KitLab,
  spec: CellSpec,
  options: MeasureOptions = {},
): Promise<Cell> {
  const start = performance.now();
  const { sndbuf, rcvbuf, noDelay } = spec;
  const onListener = (options.rcvbufOn ?? "listener") === "listener";
  const ln = lab.listen({ noDelay });
  if (rcvbuf !== undefined && onListener) setReadBuffer(ln, rcvbuf);
  const [client, server] = await Promise.all([
    lab.dial(ln.addr, { noDelay }),
    ln.accept({ signal: lab.signal }).then((c) => lab.track(c, () => c[Symbol.asyncDispose]())),
  ]);
  try {
    if (rcvbuf !== undefined && !onListener) server.setReadBuffer(rcvbuf);
    if (sndbuf !== undefined) client.setWriteBuffer(sndbuf);
    const { accepted, falseBlocks } = await fillUntilBlocked(client);
    return {
      ...spec,
      threshold: accepted,
      kernelSndbuf: client.socketOptions().writeBuffer,
      kernelRcvbuf: server.socketOptions().readBuffer,
      falseBlocks,
      ms: since(start),
    };
  } finally {
    // Free the cell's buffers (up to 12 MiB) before the next cells start.
    await client[Symbol.asyncDispose]();
    await server[Symbol.asyncDispose]();
    await ln[Symbol.asyncDispose]();
  }
}

/** Measures every cell, PARALLEL at a time; the cells come back in `specs` order. */
export async function sweep(lab: KitLab, specs: readonly CellSpec[]): Promise<Cell[]> {
  const cells: Cell[] = new Array(specs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < specs.length; i = next++) cells[i] = await measureCell(lab, specs[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, specs.length) }, worker));
  return cells;
}

/** Every pair of sizes, each with NoDelay on and off. */
export function fullGrid(): CellSpec[] {
  return SIZES.flatMap((sndbuf) =>
    SIZES.flatMap((rcvbuf) => [true, false].map((noDelay) => ({ sndbuf, rcvbuf, noDelay })))
  );
}

/** The same size on both sides, each with NoDelay on and off: the normal run's subset. */
export function diagonal(): CellSpec[] {
  return SIZES.flatMap((size) =>
    [true, false].map((noDelay) => ({ sndbuf: size, rcvbuf: size, noDelay }))
  );
}

/** A size for a table cell: whole KiB and MiB as such, else KiB or MiB with decimals. */
export function size(n: number): string {
  if (n === 0) return "0";
  if (n % MiB === 0) return `${n / MiB} MiB`;
  if (n % KiB === 0) return `${n / KiB} KiB`;
  return n < MiB ? `${(n / KiB).toFixed(1)} KiB` : `${(n / MiB).toFixed(2)} MiB`;
}

/** A threshold for a table cell: KiB with one decimal below 1 MiB, else MiB with two. */
export function amount(n: number): string {
  return n < MiB ? `${(n / KiB).toFixed(1)} KiB` : `${(n / MiB).toFixed(2)} MiB`;
}

function sizeLabel(n: number | undefined): string {
  return n === undefined ? "default" : size(n);
}

/** The key of a cell in the row's numbers. */
export function cellKey(spec: CellSpec): string {
  const side = (size: number | undefined): string => size === undefined ? "default" : `${size}`;
  return `snd ${side(spec.sndbuf)} rcv ${side(spec.rcvbuf)} noDelay ${spec.noDelay ? "on" : "off"}`;
}

/**
 * The cells as one matrix per NoDelay setting: a row per sender SO_SNDBUF,
 * a column per receiver SO_RCVBUF, each header with what was asked for and
 * (in parentheses) what the kernel reported; "·" where nothing was measured.
 */
export function sweepTables(cells: readonly Cell[], go?: GoResult, full = false): ProbeTable[] {
  const snds = SIZES.filter((s) => cells.some((c) => c.sndbuf === s));
  const rcvs = SIZES.filter((s) => cells.some((c) => c.rcvbuf === s));
  const kernel = (pick: (c: Cell) => boolean, value: (c: Cell) => number): string => {
    const values = [...new Set(cells.filter(pick).map(value))].sort((a, b) => a - b);
    return values.map(size).join("…");
  };
  const tables: ProbeTable[] = [];
  for (const noDelay of [true, false]) {
    const mine = cells.filter((c) => c.noDelay === noDelay);
    if (mine.length === 0) continue;
    const head = [
      "SO_SNDBUF \\ SO_RCVBUF",
      ...rcvs.map((r) =>
        `${sizeLabel(r)} (${kernel((c) => c.rcvbuf === r, (c) => c.kernelRcvbuf)})`
      ),
    ];
    const rows = snds.map((s) => [
      `${sizeLabel(s)} (${kernel((c) => c.sndbuf === s, (c) => c.kernelSndbuf)})`,
      ...rcvs.map((r) => {
        const cell = mine.find((c) => c.sndbuf === s && c.rcvbuf === r);
        if (cell === undefined) return "·";
        const theirs = go?.numbers[cellKey(cell)];
        return theirs === undefined
          ? amount(cell.threshold)
          : `${amount(cell.threshold)} [Go ${amount(theirs)}]`;
      }),
    ]);
    tables.push({
      title:
        `Write-block threshold, NoDelay ${noDelay ? "on (Go's default)" : "off (Nagle on)"}: ` +
        "bytes accepted before a write blocked, by the sender's SO_SNDBUF (rows) and the " +
        "receiver's SO_RCVBUF (columns) asked for, with the kernel's value once the writes " +
        "blocked in parentheses (default: the OS's, auto-tuned)",
      head,
      rows,
      note: [
        full
          ? "Every cell measured (--sweep)."
          : "· a cell this run did not measure: the normal run measures equal sizes on both " +
            "sides (the diagonal); `deno task probe --sweep` measures every cell.",
        go === undefined
          ? "Go not measured here."
          : noDelay
          ? "[Go …] Go's threshold for the cell, where its program measured it (a few cells; " +
            "the row compares them)."
          : "Go measured NoDelay on only (the table above).",
      ].join(" "),
    });
  }
  return tables;
}

/** The row for a set of cells; Go's figures go into the tables. */
function outcome(cells: Cell[], go: GoResult | undefined, full: boolean): Outcome {
  const find = (
    snd: number | undefined,
    rcv: number | undefined,
    noDelay = true,
  ): Cell | undefined =>
    cells.find((c) => c.sndbuf === snd && c.rcvbuf === rcv && c.noDelay === noDelay);
  const normal = find(undefined, undefined);
  const smallest = find(16 * KiB, 16 * KiB);
  // NoDelay moves the threshold only through how the bytes are cut into
  // segments (the kernel charges each segment's overhead to the buffers).
  let nagleDiff = 0;
  let nagleAt = "";
  for (const c of cells) {
    const other = find(c.sndbuf, c.rcvbuf, !c.noDelay);
    const diff = other === undefined ? 0 : Math.abs(c.threshold - other.threshold) / c.threshold;
    if (diff > nagleDiff) {
      nagleDiff = diff;
      nagleAt = `${sizeLabel(c.sndbuf)} × ${sizeLabel(c.rcvbuf)}`;
    }
  }
  const numbers: Record<string, number> = {};
  for (const c of cells) numbers[cellKey(c)] = c.threshold;
  numbers.cells = cells.length;
  numbers.falseBlocks = cells.reduce((sum, c) => sum + c.falseBlocks, 0);
  numbers.nagleMaxDiffPercent = Math.round(nagleDiff * 1000) / 10;
  // The kernel's reported sizes bound what it holds: payload is less than
  // the memory it is charged (Linux doubles the size asked for to cover that).
  const bounded = cells.every((c) =>
    c.threshold > 0 && c.threshold <= c.kernelSndbuf + c.kernelRcvbuf + CHUNK
  );
  const shrinks = normal !== undefined && smallest !== undefined &&
    smallest.threshold < normal.threshold / 4;
  const parts = [
    normal === undefined ? "" : `default ${amount(normal.threshold)}`,
    smallest === undefined ? "" : `16 KiB both sides ${amount(smallest.threshold)}`,
    nagleDiff === 0
      ? "NoDelay on and off alike"
      : `NoDelay on vs off at most ${numbers.nagleMaxDiffPercent}% apart (${nagleAt})`,
    `${cells.length} cells, tables below`,
  ];
  return {
    netconn: parts.filter((p) => p !== "").join("; "),
    numbers,
    ok: bounded && shrinks,
    tables: sweepTables(cells, go, full),
  };
}

const GO = "Write blocks once SO_SNDBUF + the peer's SO_RCVBUF are full (Darwin: ~679 KB)";

/** The cells both sides measured: [key, Go's threshold, netconn's]. */
function shared(go: GoResult, ours: Outcome): [string, number | undefined, number | undefined][] {
  return Object.keys(go.numbers).filter((key) => /^snd \S+ rcv \S+ noDelay \S+$/.test(key))
    .filter((key) => ours.numbers[key] !== undefined)
    .map((key) => [key, go.numbers[key], ours.numbers[key]]);
}

/** The normal run's sweep: equal sizes on both sides, NoDelay on and off. */
export const sweepDiagonal: Experiment = {
  name: "write-block threshold sweep",
  go: GO,
  needs: ["ffi"],
  limitMs: 15_000,
  goCase: "sweep",
  compare: (go, ours) => {
    const cells = shared(go, ours);
    if (cells.length === 0) return { agree: false, note: "no cell measured on both sides" };
    return agreement(...cells.map(([key, g, o]) => thresholdCheck(key, g, o)));
  },
  decision: (ours, go) => go === undefined ? undefined : strandedThresholds(shared(go, ours)),
  async run(lab: Lab): Promise<Outcome> {
    const cells = await sweep(lab, diagonal());
    return outcome(cells, await lab.goResult("sweep"), false);
  },
};

/** `--sweep`: every pair of sizes, NoDelay on and off. */
export const sweepFull: Experiment = {
  ...sweepDiagonal,
  limitMs: 40_000,
  async run(lab: Lab): Promise<Outcome> {
    const cells = await sweep(lab, fullGrid());
    return outcome(cells, await lab.goResult("sweep"), true);
  },
};
