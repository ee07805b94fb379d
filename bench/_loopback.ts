/**
 * The two workloads of the conn benchmarks, written once over a small
 * {@linkcode Endpoint} shape so raw `Deno.Conn` and netconn run the very
 * same loops on one pair of sockets (the kit's `rawPair`). Every workload
 * checks its own result and throws on a wrong one, so a fast wrong answer
 * fails the bench.
 *
 * @module
 */

import { type Conn, TcpConn } from "../mod.ts";
import { ramp, readFull, writeAll } from "../_kit/bytes.ts";

/** One end of a connection, as a workload drives it. */
export interface Endpoint {
  /** Reads up to `p.length` bytes; null at EOF. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes all of `p`. */
  writeAll(p: Uint8Array): Promise<void>;
  /**
   * Reads the next chunk the endpoint has, valid until the next call; null
   * at EOF. Bulk receivers use it when present (streams hand out chunks, and
   * copying them into a buffer would add a cost the stream does not have).
   */
  next?(): Promise<Uint8Array | null>;
}

/** Both ends of one loopback connection. */
export interface Pair<T> {
  client: T;
  server: T;
}

/** The pair of what `make` gives for each end of `pair`, e.g. `bothEnds(raw, rawEndpoint)`. */
export function bothEnds<T, E>(pair: Pair<T>, make: (end: T) => E): Pair<E> {
  return { client: make(pair.client), server: make(pair.server) };
}

/**
 * Conns wrapping the two ends of `pair`, as `dial` and `accept` wrap theirs.
 * Several wraps of one pair may take turns, one workload at a time: between
 * workloads the stream is idle and each Conn's read buffer is empty.
 */
export function wrapPair(pair: Pair<Deno.TcpConn>): Pair<Conn> {
  return { client: new TcpConn(pair.client), server: new TcpConn(pair.server) };
}

/** A raw Deno conn as an endpoint: writes loop until every byte is out. */
export function rawEndpoint(conn: Deno.Conn): Endpoint {
  return { read: (p) => conn.read(p), writeAll: (p) => writeAll(conn, p) };
}

/**
 * A raw Deno conn that copies as netconn must: every write copied into a
 * buffer of the endpoint's own before the runtime sees it, every read made
 * into a buffer of its own and copied out. The floor of netconn's design on
 * bulk transfers, with none of its other work.
 */
export function rawCopyEndpoint(conn: Deno.TcpConn): Endpoint {
  let out = new Uint8Array(0);
  let inBuf = new Uint8Array(0);
  return {
    async read(p) {
      if (inBuf.length < p.length) inBuf = new Uint8Array(p.length);
      const n = await conn.read(inBuf.subarray(0, p.length));
      if (n !== null) p.set(inBuf.subarray(0, n));
      return n;
    },
    async writeAll(p) {
      if (out.length < p.length) out = new Uint8Array(p.length);
      const chunk = out.subarray(0, p.length);
      chunk.set(p);
      await writeAll(conn, chunk);
    },
  };
}

/**
 * A netconn conn as an endpoint. With `moveDeadlineMs`, the read deadline is
 * moved that far ahead before every read and the write deadline before every
 * write, as Go servers do.
 */
export function connEndpoint(conn: Conn, moveDeadlineMs?: number): Endpoint {
  if (moveDeadlineMs === undefined) {
    return {
      read: (p) => conn.read(p),
      async writeAll(p) {
        await conn.write(p);
      },
    };
  }
  return {
    read(p) {
      conn.setReadDeadline(Date.now() + moveDeadlineMs);
      return conn.read(p);
    },
    async writeAll(p) {
      conn.setWriteDeadline(Date.now() + moveDeadlineMs);
      await conn.write(p);
    },
  };
}

/**
 * A conn's streams as an endpoint: reads through a default reader (the way
 * most code reads a stream: `for await`, `pipeTo`, `getReader()`), keeping
 * what did not fit for the next read; writes are one `write` of the stream's
 * writer. Both locks are held until `release`.
 */
export function streamEndpoint(conn: {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}): Endpoint & { release(): void } {
  const { readable, writable } = conn;
  const reader = readable.getReader();
  const writer = writable.getWriter();
  let rest: Uint8Array | undefined;
  const next = async (): Promise<Uint8Array | null> => {
    if (rest !== undefined) {
      const chunk = rest;
      rest = undefined;
      return chunk;
    }
    const { value, done } = await reader.read();
    return done ? null : value;
  };
  return {
    next,
    async read(p) {
      const chunk = await next();
      if (chunk === null) return null;
      const n = Math.min(p.length, chunk.length);
      p.set(n === chunk.length ? chunk : chunk.subarray(0, n));
      rest = n < chunk.length ? chunk.subarray(n) : undefined;
      return n;
    },
    writeAll: (p) => writer.write(p),
    release() {
      if (rest !== undefined) throw new Error("Stream endpoint released with unread bytes");
      reader.releaseLock();
      writer.releaseLock();
    },
  };
}

/** The byte at stream offset `k` of a bulk transfer: the kit's counting stream. */
function expected(k: number): number {
  return k & 0xff;
}

const CHUNK = 64 * 1024;
const MAX_WRITE = 1024 * 1024;
const SOURCE = ramp(MAX_WRITE); // a multiple of 256

/** Options of {@linkcode bulk}. */
export interface BulkOptions {
  /** Bytes per write, a multiple of 256 up to 1 MiB. @default {65536} */
  writeSize?: number;
  /** Bytes per read (buffer size). @default {65536} */
  readSize?: number;
}

/**
 * Sends `total` bytes from `from` to `to` in writes of `writeSize` bytes
 * while `to` reads into a `readSize` buffer (or takes the chunks `next`
 * hands out). Checks the count and, for every read, the first and last byte
 * against their stream offsets.
 *
 * @throws {Error} If the receiver got a wrong count or a wrong byte.
 */
export async function bulk(
  from: Endpoint,
  to: Endpoint,
  total: number,
  options: BulkOptions = {},
): Promise<void> {
  const { writeSize = CHUNK, readSize = CHUNK } = options;
  if (writeSize % 256 !== 0 || writeSize > MAX_WRITE || total % writeSize !== 0) {
    throw new RangeError(`Bulk size ${total} is not a multiple of the write size ${writeSize}`);
  }
  const source = SOURCE.subarray(0, writeSize);
  const send = async (): Promise<void> => {
    for (let sent = 0; sent < total; sent += writeSize) await from.writeAll(source);
  };
  const check = (chunk: Uint8Array, got: number): void => {
    const n = chunk.length;
    if (n === 0 || chunk[0] !== expected(got) || chunk[n - 1] !== expected(got + n - 1)) {
      throw new Error(`Bulk transfer: wrong byte near offset ${got}`);
    }
  };
  const receive = async (): Promise<number> => {
    let got = 0;
    if (to.next !== undefined) {
      while (got < total) {
        const chunk = await to.next();
        if (chunk === null) break;
        check(chunk, got);
        got += chunk.length;
      }
      return got;
    }
    const buf = new Uint8Array(readSize);
    while (got < total) {
      const n = await to.read(buf);
      if (n === null) break;
      check(buf.subarray(0, n), got);
      got += n;
    }
    return got;
  };
  const [, got] = await Promise.all([send(), receive()]);
  if (got !== total) throw new Error(`Bulk transfer: received ${got} of ${total} bytes`);
}

/**
 * `rounds` round trips of a `size`-byte message: `client` writes it, `server`
 * reads it whole and echoes it, `client` reads the echo whole. Each message
 * carries its round number, and every echo is compared byte for byte.
 *
 * @throws {Error} If an echo differs from what was sent.
 */
export async function pingPong(
  client: Endpoint,
  server: Endpoint,
  options: { rounds: number; size: number },
): Promise<void> {
  const { rounds, size } = options;
  const echo = async (): Promise<void> => {
    const msg = new Uint8Array(size);
    for (let i = 0; i < rounds; i++) {
      await readFull(server, msg);
      await server.writeAll(msg);
    }
  };
  const ping = async (): Promise<void> => {
    const msg = new Uint8Array(size);
    const view = new DataView(msg.buffer);
    const back = new Uint8Array(size);
    for (let i = 0; i < rounds; i++) {
      view.setUint32(0, i);
      msg[size - 1] = i & 0xff;
      await client.writeAll(msg);
      await readFull(client, back);
      for (let j = 0; j < size; j++) {
        if (back[j] !== msg[j]) throw new Error(`Ping-pong: round ${i} echoed a wrong byte ${j}`);
      }
    }
  };
  await Promise.all([echo(), ping()]);
}
