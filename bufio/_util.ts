/**
 * What bufio's readers and writers share: its constants, the checks of
 * sizes, delimiters and of the counts a source or destination returns, the
 * end of a line, and the loop that writes all of a buffer. Internal.
 *
 * @module
 */

import { describe } from "../_check.ts";
import { NoProgressError, type Writer } from "./io.ts";

/** Line feed, `"\n"`. */
export const LF = 0x0a;
/** Carriage return, `"\r"`. */
export const CR = 0x0d;
/** The settled promise a synchronous fast path returns. */
export const RESOLVED: Promise<void> = Promise.resolve();
/** Empty reads or writes in a row that end in NoProgressError, as Go. */
export const MAX_EMPTY_OPS = 100;
/** Largest buffer accepted (1 GiB). */
export const MAX_BUFFER_SIZE = 2 ** 30;
/** Smallest buffer; smaller sizes round up to it, as Go's bufio.Reader. */
const MIN_BUFFER_SIZE = 16;

/**
 * Checks a buffer size and rounds it up to the minimum: integers from 0 to
 * 15 become 16. Not a number is a TypeError; not an integer from 0 to 1 GiB
 * a RangeError.
 */
export function bufferSize(size: unknown, where: string): number {
  if (typeof size !== "number") {
    throw new TypeError(`${where} takes a buffer size in bytes: received ${describe(size)}`);
  }
  if (!Number.isInteger(size) || size < 0 || size > MAX_BUFFER_SIZE) {
    throw new RangeError(
      `${where} takes a buffer size from 0 to ${MAX_BUFFER_SIZE} bytes: received ${describe(size)}`,
    );
  }
  return size < MIN_BUFFER_SIZE ? MIN_BUFFER_SIZE : size;
}

/**
 * The byte a delimiter stands for: a one-character ASCII string (`"\n"`) or
 * an integer from 0 to 255; -1 for anything else.
 */
export function delimiterByte(delim: unknown): number {
  if (typeof delim === "string") {
    return delim.length === 1 && delim.charCodeAt(0) < 0x80 ? delim.charCodeAt(0) : -1;
  }
  return typeof delim === "number" && (delim & 0xff) === delim ? delim : -1;
}

/** The error for a delimiter {@linkcode delimiterByte} refuses. */
export function delimiterError(delim: unknown, where: string): Error {
  const what = "a one-character ASCII string or a byte from 0 to 255";
  const message = `${where} takes ${what}: received ${describe(delim)}`;
  return typeof delim === "string" || typeof delim === "number"
    ? new RangeError(message)
    : new TypeError(message);
}

/**
 * Checks a count returned by a reader or writer for a buffer of `max` bytes:
 * Go panics on these; here they are errors the caller sees.
 */
export function checkResult(n: unknown, max: number, who: "Reader" | "Writer"): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > max) {
    throw new RangeError(
      `${who} returned an invalid count for a ${max}-byte buffer: received ${describe(n)}`,
    );
  }
  return n;
}

/**
 * Where the line in `buf[start, lf)` ends without its `"\r"`: the line feed
 * at `lf` ends the line, and a carriage return just before it, within the
 * line, belongs to the line ending.
 */
export function lineEnd(buf: Uint8Array, start: number, lf: number): number {
  return lf > start && buf[lf - 1] === CR ? lf - 1 : lf;
}

/**
 * Writes all of `p` to `wr`: one `write` call when the writer takes it all
 * (netconn's Conn always does), more when it accepts part of it. Resolves with
 * `p.length`; rejects with the writer's error, or NoProgressError after 100
 * writes in a row that accept nothing. `progress.written` receives the count
 * accepted before a failure.
 */
export async function writeAll(
  wr: Writer,
  p: Uint8Array,
  progress?: { written: number },
): Promise<number> {
  let off = 0;
  let empty = 0;
  while (off < p.length) {
    const rest = off === 0 ? p : p.subarray(off);
    const n = checkResult(await wr.write(rest), rest.length, "Writer");
    off += n;
    if (progress !== undefined) progress.written = off;
    if (n > 0) {
      empty = 0;
    } else if (++empty >= MAX_EMPTY_OPS) {
      throw new NoProgressError(`Writer accepted no bytes in ${MAX_EMPTY_OPS} writes in a row`);
    }
  }
  return p.length;
}
