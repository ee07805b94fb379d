/**
 * Buffered I/O and message framing for netconn, as Go's `bufio`, over any
 * {@linkcode Reader} or {@linkcode Writer} (netconn's `Conn`, a raw
 * `Deno.Conn`, a `Deno.FsFile`) and over web streams.
 *
 * - {@linkcode BufReader}: `read`, `readByte`, `unreadByte`, `peek`,
 *   `readSlice`, `readLine`, `readString`, `readFull`, `readExact`,
 *   `discard`, with bounded memory and Go's errors, and the synchronous fast
 *   paths {@linkcode BufReader.tryPeek} and {@linkcode BufReader.tryDiscard}.
 * - {@linkcode BufWriter}: `write`, `writeByte`, `writeString`, `flush`,
 *   `readFrom`, and the synchronous fast path {@linkcode BufWriter.tryWrite}.
 * - {@linkcode FrameReader} / {@linkcode FrameWriter}: length-prefixed
 *   frames (big-endian u32 header, 16 MiB limit by default).
 * - {@linkcode LineReader} / {@linkcode LineWriter}: newline-delimited text
 *   (64 KiB limit by default).
 *
 * Each frame or line a writer sends is one `write` call, so over netconn's
 * `Conn`, whose writes never interleave, concurrent senders' messages arrive
 * whole.
 *
 * @example Concurrent senders on one connection, read back whole
 * ```ts
 * import { dial, listen } from "@netconn/netconn";
 * import { FrameReader, FrameWriter } from "@netconn/netconn/bufio";
 * import assert from "node:assert/strict";
 *
 * await using ln = listen("127.0.0.1:0");
 * await using client = await dial(ln.addr);
 * await using server = await ln.accept();
 *
 * // Three senders, each with its own FrameWriter on the same Conn.
 * await Promise.all([1, 2, 3].map((n) => new FrameWriter(client).writeFrame(new Uint8Array(n * 1000).fill(n))));
 * await client.closeWrite();
 *
 * const sizes: number[] = [];
 * for await (const frame of new FrameReader(server)) {
 *   assert.ok(frame.every((b) => b * 1000 === frame.length)); // never mixed
 *   sizes.push(frame.length);
 * }
 * assert.deepEqual(sizes.sort(), [1000, 2000, 3000]);
 * ```
 *
 * @module
 */

export * from "./buf_reader.ts";
export * from "./buf_writer.ts";
export * from "./errors.ts";
export * from "./frame.ts";
export * from "./io.ts";
export * from "./line.ts";
