/**
 * The two shapes netconn's buffered I/O works over, {@linkcode Reader} and
 * {@linkcode Writer}, and the error a reader or writer that makes no progress
 * ends in, {@linkcode NoProgressError}. They are Go's `io.Reader`,
 * `io.Writer` and `io.ErrNoProgress`, in Deno's conventions: `Uint8Array`
 * buffers, promises, and `null` at end of stream.
 *
 * @module
 */

/**
 * Reader is anything with Deno's `read`: a raw `Deno.Conn`, netconn's `Conn`,
 * a `Deno.FsFile`, or a test double. The shape is structural, so nothing needs
 * to implement or import it.
 *
 * The contract `read` keeps, as Deno's and Go's readers do:
 *
 * - it reads up to `p.length` bytes into the start of `p` and resolves with
 *   the count `n`, an integer with `0 <= n <= p.length`; it may resolve with
 *   fewer bytes than `p` holds as soon as some are there;
 * - it resolves with `null` at end of stream, and never writes into `p`
 *   after its promise settles;
 * - `0` means "nothing this time": netconn's buffered readers allow 99 such
 *   reads in a row and fail the 100th with {@linkcode NoProgressError}.
 *
 * @example A raw Deno.Conn, a Deno.FsFile and a test double all fit
 * ```ts
 * import { BufReader, type Reader } from "@netconn/netconn/bufio";
 * import assert from "node:assert/strict";
 *
 * // Deno's own types are Readers as they are:
 * function fromConn(conn: Deno.Conn): Reader {
 *   return conn;
 * }
 * function fromFile(file: Deno.FsFile): Reader {
 *   return file;
 * }
 * // So is a test double that always reads one byte 42.
 * const double: Reader = {
 *   read(p) {
 *     p[0] = 42;
 *     return Promise.resolve(1);
 *   },
 * };
 * const br = new BufReader(double);
 * assert.deepEqual(await br.readExact(3), new Uint8Array([42, 42, 42]));
 * assert.equal(typeof fromConn, typeof fromFile);
 * ```
 */
export interface Reader {
  /**
   * Reads up to `p.length` bytes into `p`.
   *
   * @param p The buffer to read into.
   * @returns The number of bytes read, or `null` at end of stream.
   */
  read(p: Uint8Array): Promise<number | null>;
}

/**
 * Writer is anything with Deno's `write`: a raw `Deno.Conn`, netconn's `Conn`,
 * a `Deno.FsFile`, or a test double. The shape is structural.
 *
 * The contract `write` keeps: it writes bytes from the start of `p` and
 * resolves with the count `n`, an integer with `0 <= n <= p.length`, or
 * rejects. netconn's `Conn` always writes all of `p` as one contiguous run of
 * bytes; a raw `Deno.Conn` may accept only part of it. netconn's writers
 * handle both: they write the rest after a short count, allow 99 writes in a
 * row that accept nothing and fail the 100th with {@linkcode NoProgressError}.
 * A writer must not read `p` after its promise settles.
 *
 * @example A test double that collects what it is given
 * ```ts
 * import type { Writer } from "@netconn/netconn/bufio";
 * import assert from "node:assert/strict";
 *
 * const chunks: Uint8Array[] = [];
 * const sink: Writer = {
 *   write(p) {
 *     chunks.push(p.slice());
 *     return Promise.resolve(p.length);
 *   },
 * };
 * assert.equal(await sink.write(new Uint8Array([1, 2, 3])), 3);
 * assert.deepEqual(chunks, [new Uint8Array([1, 2, 3])]);
 * ```
 */
export interface Writer {
  /**
   * Writes bytes from the start of `p`.
   *
   * @param p The bytes to write.
   * @returns The number of bytes written.
   */
  write(p: Uint8Array): Promise<number>;
}

/**
 * NoProgressError is Go's `io.ErrNoProgress`: a reader resolved with `0`, or a
 * writer accepted no bytes, 100 times in a row. netconn's buffered types end
 * the loop with this error instead of spinning on a broken reader or writer.
 *
 * @example A reader that never returns data
 * ```ts
 * import { BufReader, NoProgressError } from "@netconn/netconn/bufio";
 * import assert from "node:assert/strict";
 *
 * const stuck = { read: () => Promise.resolve(0) };
 * const br = new BufReader(stuck);
 * await assert.rejects(br.readByte(), NoProgressError);
 * ```
 */
export class NoProgressError extends Error {
  /**
   * Builds the error.
   *
   * @param message What made no progress.
   */
  constructor(message: string) {
    super(message);
    this.name = "NoProgressError";
  }
}
