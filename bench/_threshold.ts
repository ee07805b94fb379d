/**
 * The write-block threshold: how many bytes a writer can hand to a TCP conn
 * whose peer never reads before `write` blocks, for given SO_SNDBUF,
 * SO_RCVBUF and NoDelay. Shared by `bench/threshold_bench.ts` and the probe's
 * sweep; needs `--allow-net`, and `--allow-ffi` to set buffer sizes.
 *
 * The measure: a fresh loopback pair through netconn (`dial` and `accept`),
 * the sender's `setWriteBuffer` and the receiver's `setReadBuffer` called
 * after connecting, as a Go program calls `SetWriteBuffer` /
 * `SetReadBuffer`. The sender then writes one large buffer; netconn hands it
 * to the OS in 1 MiB pieces and counts every byte the OS accepts
 * (`stats().bytesWritten`). Once that count has not moved for `quietMs`, the
 * write is blocked, and the count is the threshold: what a loop of smaller
 * writes would have got through before one blocked, give or take a write.
 *
 * @module
 */

import { dial, listen } from "../mod.ts";
import { sockoptSupported } from "../sockopt.ts";

/** One cell of the grid. */
export interface ThresholdOptions {
  /** The sender's SO_SNDBUF as passed to `setWriteBuffer`; undefined leaves the OS default. */
  sendBuffer?: number | undefined;
  /** The receiver's SO_RCVBUF as passed to `setReadBuffer`; undefined leaves the OS default. */
  receiveBuffer?: number | undefined;
  /** TCP_NODELAY on both ends (Go's default and netconn's: true). */
  noDelay: boolean;
  /**
   * How long the count must stand still to call the write blocked. On Linux
   * the count can still jump 40 to 130 ms after a stall, when the receiver
   * compacts its queue and reopens the window, so less than ~250 ms stops
   * early on large buffers.
   *
   * @default {300}
   */
  quietMs?: number;
  /** Give up after this long (a write that never blocks). @default {5000} */
  limitMs?: number;
}

/** What one cell measured. */
export interface Threshold {
  /** SO_SNDBUF asked for, or null for the default. */
  sendBuffer: number | null;
  /** SO_RCVBUF asked for, or null for the default. */
  receiveBuffer: number | null;
  noDelay: boolean;
  /** Bytes the OS accepted before the write blocked. */
  accepted: number;
  /** True when the write never blocked within `limitMs` (or took the whole buffer). */
  neverBlocked: boolean;
  /** The sender's SO_SNDBUF as the kernel reports it (Linux doubles the request); -1 without FFI. */
  kernelSendBuffer: number;
  /** The receiver's SO_RCVBUF as the kernel reports it; -1 without FFI. */
  kernelReceiveBuffer: number;
  /** Time from the first byte to the write blocking, ms. */
  ms: number;
}

/** The one write: larger than any kernel buffer pair can take (2 x 2 x 4 MiB + queues). */
const WRITE_SIZE = 64 * 1024 * 1024;
const POLL_MS = 2;

let payload: Uint8Array | undefined;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Measures one cell: bytes accepted before a write blocks.
 *
 * @throws {NotSupportedError} When a buffer size is given without `--allow-ffi`.
 */
export async function measureThreshold(options: ThresholdOptions): Promise<Threshold> {
  const { sendBuffer, receiveBuffer, noDelay, quietMs = 300, limitMs = 5000 } = options;
  await using ln = listen({ hostname: "127.0.0.1", port: 0 }, { noDelay });
  const [client, server] = await Promise.all([
    dial(ln.addr, { noDelay }),
    ln.accept(),
  ]);
  await using _client = client;
  await using _server = server;
  if (sendBuffer !== undefined) client.setWriteBuffer(sendBuffer);
  if (receiveBuffer !== undefined) server.setReadBuffer(receiveBuffer);
  const ffi = sockoptSupported();
  const kernelSendBuffer = ffi ? client.socketOptions().writeBuffer : -1;
  const kernelReceiveBuffer = ffi ? server.socketOptions().readBuffer : -1;

  payload ??= new Uint8Array(WRITE_SIZE);
  let done = false;
  const writing = client.write(payload).then(
    () => done = true,
    () => {}, // closed below, once blocked
  );
  const start = performance.now();
  let last = -1;
  let since = start;
  for (;;) {
    await delay(POLL_MS);
    const now = performance.now();
    const count = client.stats().bytesWritten;
    if (count !== last) {
      last = count;
      since = now;
    } else if (now - since >= quietMs) {
      break;
    }
    if (done || now - start >= limitMs) break;
  }
  client.close();
  await writing;
  return {
    sendBuffer: sendBuffer ?? null,
    receiveBuffer: receiveBuffer ?? null,
    noDelay,
    accepted: last,
    neverBlocked: done || performance.now() - start >= limitMs,
    kernelSendBuffer,
    kernelReceiveBuffer,
    ms: Math.round(since - start),
  };
}

/** The grid's buffer sizes: the OS default (undefined), then 16 KiB to 4 MiB by 4x. */
export const BUFFER_SIZES: (number | undefined)[] = [
  undefined,
  16 * 1024,
  64 * 1024,
  256 * 1024,
  1024 * 1024,
  4 * 1024 * 1024,
];

/**
 * Measures every SO_SNDBUF x SO_RCVBUF cell of `sizes` for one NoDelay.
 * Without `--allow-ffi` only the default sizes can be measured.
 */
export async function measureGrid(
  noDelay: boolean,
  options: { quietMs?: number; sizes?: (number | undefined)[] } = {},
): Promise<Threshold[]> {
  const sizes = sockoptSupported() ? options.sizes ?? BUFFER_SIZES : [undefined];
  const cells: Threshold[] = [];
  for (const sendBuffer of sizes) {
    for (const receiveBuffer of sizes) {
      cells.push(
        await measureThreshold({
          sendBuffer,
          receiveBuffer,
          noDelay,
          ...(options.quietMs === undefined ? {} : { quietMs: options.quietMs }),
        }),
      );
    }
  }
  return cells;
}

/** A byte count as KiB or MiB, e.g. "2.5 MiB". */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${+(n / 1024 / 1024).toFixed(2)} MiB`;
  return `${+(n / 1024).toFixed(1)} KiB`;
}

/** A grid as a Markdown table: rows SO_SNDBUF, columns SO_RCVBUF, cells bytes accepted. */
export function formatGrid(cells: Threshold[]): string {
  const name = (n: number | null): string => n === null ? "default" : formatBytes(n);
  const rcv = [...new Set(cells.map((c) => c.receiveBuffer))];
  const snd = [...new Set(cells.map((c) => c.sendBuffer))];
  const lines = [
    `| SO_SNDBUF \\ SO_RCVBUF | ${rcv.map(name).join(" | ")} |`,
    `| --- |${" ---: |".repeat(rcv.length)}`,
  ];
  for (const s of snd) {
    const row = rcv.map((r) => {
      const c = cells.find((c) => c.sendBuffer === s && c.receiveBuffer === r)!;
      return c.neverBlocked ? "never blocked" : formatBytes(c.accepted);
    });
    lines.push(`| ${name(s)} | ${row.join(" | ")} |`);
  }
  return lines.join("\n");
}
