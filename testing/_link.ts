/**
 * Link: one direction of a proxied conn. A reader task reads the sender into
 * a queue of chunks, each stamped with the time it was read; a writer task
 * takes them out and passes them to the receiver under the faults that apply
 * to this direction, re-reading the faults before every piece, so faults
 * added or removed while bytes wait take effect at once.
 *
 * @module
 */

import type { Conn } from "../mod.ts";
import { appliesTo, type CheckedFault } from "./_fault.ts";
import type { Random } from "./_rand.ts";
import { Wake } from "./_wake.ts";

/** The direction of a link: client → upstream, or upstream → client. */
export type Way = "upstream" | "downstream";

/** What a link needs from the conn it belongs to. */
export interface LinkHost {
  /** The faults in force now, by id. */
  faults(): Iterable<readonly [number, CheckedFault]>;
  /** `n` bytes were forwarded this way. */
  forwarded(way: Way, n: number): void;
  /** A reset fault fired on this link's bytes. */
  reset(): void;
  /** A limit-data fault fired on this link's bytes: close the conn. */
  close(): void;
  /** This link's seeded generator (jitter, slice sizes). */
  random: Random;
  /** An I/O error ended the link. */
  fail(error: unknown): void;
}

/** A run of bytes read from the sender, or the sender's EOF (`bytes === null`). */
interface Chunk {
  bytes: Uint8Array | null;
  offset: number; // bytes[0..offset] are forwarded
  stamp: number; // performance.now() when it was read
  jitter: number | undefined; // this chunk's draw of the latency jitter, once drawn
}

/** The faults of one direction, folded into what the writer needs. */
interface Plan {
  silence: boolean;
  drop: boolean; // a timeout fault: data is discarded, an EOF held
  latency: number; // ms, the sum of every latency fault
  jitter: number; // ms, the sum of their jitters
  slowClose: number; // ms, the sum of every slow-close fault
  rate: number | undefined; // bytes/s, the lowest cap
  slice: number | undefined; // bytes, the smallest slice
  sliceVariation: number; // bytes, that slice's size variation
  sliceDelay: number; // ms, the longest delay between slices
  limit: number | undefined; // bytes left before a cut, reset or close fires
  limitKind: "cut" | "reset" | "close";
}

/** The most one read of the sender takes. */
const READ_SIZE = 32 * 1024;
/**
 * The reader stops reading while this many bytes wait in the queue, so a
 * link holds at most HIGH_WATER + READ_SIZE - 1 bytes: under 256 KiB.
 */
export const HIGH_WATER: number = 224 * 1024;
/** The most a link holds: {@linkcode HIGH_WATER} plus one read. */
export const MAX_HELD: number = HIGH_WATER + READ_SIZE;
/** A bandwidth cap sends pieces of this many milliseconds' worth of bytes. */
const RATE_PIECE_MS = 10;
/** A capped link that fell this far behind its schedule (it was idle) starts afresh. */
const RATE_SLACK_MS = 20;

/** One direction of a proxied conn; see the module doc. */
export class Link {
  readonly way: Way;
  #src: Conn;
  #dst: Conn;
  #host: LinkHost;
  #queue: Chunk[] = [];
  #queued = 0; // bytes in #queue not yet forwarded, at most HIGH_WATER + READ_SIZE
  #writer = new Wake();
  #reader = new Wake();
  #sent = 0; // bytes forwarded so far
  #bases = new Map<number, number>(); // byte-limit fault id -> #sent when this link first saw it
  #rateDue = 0; // performance.now() before which the next capped piece must not go
  #sliceSize: number | undefined; // the size drawn for the slice being sent
  #sliceNext = 0; // performance.now() before which the next slice must not go
  #cut = false; // FIN sent on a cut: later bytes are discarded
  #over = false; // the writer is done: EOF forwarded
  #closed = false;
  #done: Promise<void>;

  /**
   * Starts forwarding `src` to `dst`.
   *
   * @param way Which direction this is, for faults and stats.
   */
  constructor(way: Way, src: Conn, dst: Conn, host: LinkHost) {
    this.way = way;
    this.#src = src;
    this.#dst = dst;
    this.#host = host;
    this.#done = Promise.all([this.#read(), this.#write()]).then(() => {});
  }

  /** Settles once both tasks have ended: EOF forwarded (or cut and drained), or closed. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** Bytes read from the sender and not yet forwarded: at most MAX_HELD. */
  get held(): number {
    return this.#queued;
  }

  /** Makes the writer re-read the faults (one was added or removed). */
  wake(): void {
    this.#writer.wake();
  }

  /** Stops both tasks; the conns are the owner's to close. */
  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#queued = 0;
    this.#writer.wake();
    this.#reader.wake();
  }

  async #read(): Promise<void> {
    const buf = new Uint8Array(READ_SIZE);
    try {
      while (!this.#closed) {
        if (this.#queued >= HIGH_WATER) {
          await this.#reader.wait();
          continue;
        }
        const n = await this.#src.read(buf);
        if (this.#closed) return;
        if (n === null) {
          this.#push(null);
          return;
        }
        if (!this.#cut) this.#push(buf.slice(0, n));
      }
    } catch (e) {
      if (!this.#closed) this.#host.fail(e);
    }
  }

  #push(bytes: Uint8Array | null): void {
    this.#queue.push({ bytes, offset: 0, stamp: performance.now(), jitter: undefined });
    this.#queued += bytes?.length ?? 0;
    this.#writer.wake();
  }

  async #write(): Promise<void> {
    try {
      while (!this.#closed && !this.#cut && !this.#over) await this.#step();
    } catch (e) {
      if (!this.#closed) this.#host.fail(e);
    }
  }

  /** Forwards one piece, fires a limit, or waits for a time or a change. */
  async #step(): Promise<void> {
    const plan = this.#plan();
    if (plan.limit === 0) {
      if (plan.limitKind === "reset") return this.#host.reset();
      if (plan.limitKind === "close") return this.#host.close();
      return this.#cutNow();
    }
    if (plan.drop) this.#drop();
    const chunk = this.#queue[0];
    if (chunk === undefined || plan.silence || plan.drop) return this.#writer.wait();
    const now = performance.now();
    chunk.jitter ??= (this.#host.random() * 2 - 1) * plan.jitter;
    const delay = Math.max(0, plan.latency + chunk.jitter);
    const due = chunk.stamp + delay + (chunk.bytes === null ? plan.slowClose : 0);
    if (now < due) return this.#writer.wait(due - now);
    if (chunk.bytes === null) {
      this.#queue.shift();
      this.#over = true;
      return this.#dst.closeWrite();
    }
    if (plan.slice !== undefined && now < this.#sliceNext) {
      return this.#writer.wait(this.#sliceNext - now);
    }
    if (plan.rate !== undefined) {
      if (this.#rateDue < now - RATE_SLACK_MS) this.#rateDue = now;
      if (now < this.#rateDue) return this.#writer.wait(this.#rateDue - now);
    }
    let size = chunk.bytes.length - chunk.offset;
    if (plan.slice !== undefined) {
      this.#sliceSize ??= plan.sliceVariation === 0 ? plan.slice : Math.max(
        1,
        Math.round(plan.slice + (this.#host.random() * 2 - 1) * plan.sliceVariation),
      );
      size = Math.min(size, this.#sliceSize);
    }
    if (plan.rate !== undefined) {
      size = Math.min(size, Math.max(1, Math.floor(plan.rate * RATE_PIECE_MS / 1000)));
    }
    if (plan.limit !== undefined) size = Math.min(size, plan.limit);
    await this.#dst.write(chunk.bytes.subarray(chunk.offset, chunk.offset + size));
    this.#sent += size;
    chunk.offset += size;
    this.#host.forwarded(this.way, size);
    if (plan.rate !== undefined) this.#rateDue += size * 1000 / plan.rate;
    if (plan.slice !== undefined) {
      this.#sliceNext = performance.now() + plan.sliceDelay;
      this.#sliceSize = undefined; // the next slice draws its own size
    }
    if (chunk.offset === chunk.bytes.length) {
      this.#queue.shift();
      this.#queued -= chunk.bytes.length;
      this.#reader.wake();
    }
  }

  /** Discards the data at the head of the queue, up to an EOF (which is held). */
  #drop(): void {
    while (this.#queue[0]?.bytes) {
      const chunk = this.#queue.shift()!;
      this.#queued -= chunk.bytes!.length;
    }
    this.#reader.wake();
  }

  /** Sends FIN to the receiver and discards what the sender sends from now on. */
  async #cutNow(): Promise<void> {
    this.#cut = true;
    this.#queue = [];
    this.#queued = 0;
    this.#reader.wake();
    await this.#dst.closeWrite();
  }

  #plan(): Plan {
    const plan: Plan = {
      silence: false,
      drop: false,
      latency: 0,
      jitter: 0,
      slowClose: 0,
      rate: undefined,
      slice: undefined,
      sliceVariation: 0,
      sliceDelay: 0,
      limit: undefined,
      limitKind: "cut",
    };
    for (const [id, f] of this.#host.faults()) {
      if (!appliesTo(f, this.way)) continue;
      switch (f.kind) {
        case "silence":
          plan.silence = true;
          break;
        case "latency":
          plan.latency += f.ms;
          plan.jitter += f.jitter ?? 0;
          break;
        case "slow-close":
          plan.slowClose += f.ms;
          break;
        case "bandwidth":
          plan.rate = Math.min(plan.rate ?? Infinity, f.bytesPerSecond);
          break;
        case "slice":
          if (f.size < (plan.slice ?? Infinity)) {
            plan.slice = f.size;
            plan.sliceVariation = f.sizeVariation ?? 0;
          }
          plan.sliceDelay = Math.max(plan.sliceDelay, f.delay ?? 0);
          break;
        case "timeout":
          plan.drop = true;
          break;
        case "cut":
        case "reset":
          if (f.after !== undefined) this.#limit(plan, id, f.kind, f.after);
          break;
        case "limit-data":
          this.#limit(plan, id, "close", f.bytes);
          break;
      }
    }
    return plan;
  }

  /** Folds one byte-limit fault into the plan: the nearest limit wins, a reset over the others. */
  #limit(plan: Plan, id: number, kind: "cut" | "reset" | "close", after: number): void {
    let base = this.#bases.get(id);
    if (base === undefined) this.#bases.set(id, base = this.#sent);
    const left = Math.max(0, after - (this.#sent - base));
    if (
      plan.limit === undefined || left < plan.limit || (left === plan.limit && kind === "reset")
    ) {
      plan.limit = left;
      plan.limitKind = kind;
    }
  }
}
