/**
 * A batch of the write queue: one write, or several small ones gathered in
 * call order into one runtime write, and the arithmetic of which bytes of
 * the batch are whose. Internal.
 *
 * @module
 */

import { AGAIN, type KernelFirst } from "./kernel_first.ts";

/** A write (or an action such as closeWrite) waiting in line or being served. */
export interface Entry {
  p: Uint8Array; // the caller's bytes still to send; read only while the write is pending
  sent: number; // bytes of the caller's buffer the kernel took before it queued
  signal: AbortSignal | undefined;
  action: (() => Promise<unknown>) | undefined; // set for an action, not a write
  resolve(value: unknown): void;
  reject(error: unknown): void;
  onAbort: (() => void) | undefined;
  done: boolean; // served, or left the line
}

/**
 * A batch: one write, or several small ones gathered in call order, sent as
 * one logical run of `total` bytes; entry i covers [ends[i-1], ends[i]).
 */
export interface Batch {
  entries: Entry[];
  ends: number[];
  total: number;
  signal: AbortSignal | undefined; // only a batch of one carries a signal
  blockedSince?: number; // the socket was full already at this time (a lone write went part-way)
}

/**
 * Sends the batch's bytes from `from` on, entry by entry, as far as the
 * kernel takes them now; returns how many it took (0 when it would block).
 */
export function sendNow(
  kernel: KernelFirst,
  entries: Entry[],
  ends: number[],
  from: number,
  total: number,
): number {
  let at = from;
  let i = 0;
  while (ends[i]! <= at) i++;
  while (at < total) {
    const start = i === 0 ? 0 : ends[i - 1]!;
    const p = entries[i]!.p;
    const part = at === start ? p : p.subarray(at - start);
    const n = kernel.send(part);
    if (n === AGAIN) break;
    at += n;
    if (n < part.length) break; // the socket is full
    i++;
  }
  return at - from;
}

/** The bytes of entry i of a batch that are among the first `total` bytes of the batch. */
export function own(total: number, ends: number[], i: number): number {
  const start = i === 0 ? 0 : ends[i - 1]!;
  return Math.min(Math.max(total - start, 0), ends[i]! - start);
}

/** Copies the batch's bytes [from, from + chunk.length) into `chunk`. */
export function copyRun(entries: Entry[], ends: number[], from: number, chunk: Uint8Array): void {
  const to = from + chunk.length;
  let i = 0;
  while (ends[i]! <= from) i++;
  for (let at = from; at < to; i++) {
    const start = i === 0 ? 0 : ends[i - 1]!;
    const p = entries[i]!.p;
    const end = Math.min(ends[i]!, to);
    const part = start === at && end === ends[i]! ? p : p.subarray(at - start, end - start);
    chunk.set(part, at - from);
    at = end;
  }
}
