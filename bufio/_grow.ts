/**
 * Growable: bytes collected up to a limit, in memory that grows as they
 * arrive. Internal.
 *
 * @module
 */

/** The least a Growable adds when it grows (64 KiB). */
const STEP = 64 * 1024;

/**
 * Growable collects up to `limit` bytes in one resizable ArrayBuffer whose
 * maximum is the limit: the limit reserves address space only, and memory is
 * committed as the buffer grows, by 64 KiB or an eighth of what it holds,
 * whichever is more. A limit of N therefore costs about the bytes that
 * arrived, at most N, and handing the bytes over ({@linkcode Growable.bytes})
 * copies nothing. (`transferToFixedLength` would give a plain ArrayBuffer,
 * but in Deno 2.9 it copies, which doubles the peak.)
 */
export class Growable {
  #buf: ArrayBuffer; // resizable, up to the limit
  #n = 0; // bytes collected: #buf[0, #n); 0 <= #n <= #buf.byteLength <= limit

  /**
   * Reserves room for up to `limit` bytes.
   *
   * @throws {RangeError} When the runtime cannot reserve `limit` bytes of
   *   address space; `where` names the caller.
   */
  constructor(limit: number, where: string) {
    try {
      this.#buf = new ArrayBuffer(Math.min(limit, STEP), { maxByteLength: limit });
    } catch (cause) {
      throw new RangeError(`${where} cannot reserve ${limit} bytes`, { cause });
    }
  }

  /** Bytes collected. */
  get length(): number {
    return this.#n;
  }

  /**
   * The free room after the first `length` bytes, which count as collected
   * from now on (bytes just read into the room returned before), growing
   * the buffer first when it is full; empty once the limit is reached.
   */
  room(length: number = this.#n): Uint8Array {
    this.#n = length;
    const buf = this.#buf;
    if (length === buf.byteLength && length < buf.maxByteLength) {
      buf.resize(Math.min(buf.maxByteLength, length + Math.max(STEP, Math.floor(length / 8))));
    }
    // A fixed-length view: one that tracks the buffer's length would grow with it.
    return new Uint8Array(buf, length, buf.byteLength - length);
  }

  /** Appends a copy of `p`, growing as needed; `p` must fit in the limit. */
  push(p: Uint8Array): void {
    for (let off = 0; off < p.length;) {
      const room = this.room();
      const n = Math.min(room.length, p.length - off);
      room.set(off === 0 && n === p.length ? p : p.subarray(off, off + n));
      this.#n += n;
      off += n;
    }
  }

  /**
   * The first `length` collected bytes, as a view of exactly their length over the buffer,
   * which shrinks to them: no copy. The Growable must not be used afterwards.
   */
  bytes(length: number = this.#n): Uint8Array {
    this.#buf.resize(length);
    return new Uint8Array(this.#buf, 0, length);
  }
}
