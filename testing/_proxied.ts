/**
 * ProxiedConn: one conn through the proxy, the client's and the upstream's
 * sockets joined by two {@linkcode Link}s, and the end of it: closed when
 * both directions have forwarded their EOF, reset when a reset fault fires,
 * torn down when either side fails.
 *
 * @module
 */

import type { Conn } from "../mod.ts";
import type { CheckedFault } from "./_fault.ts";
import { Link, type Way } from "./_link.ts";
import { reset } from "./_reset.ts";
import { derive, type Random, seeded } from "./_rand.ts";

/** What a proxied conn needs from its proxy. */
export interface ProxiedHost {
  /** The faults in force now, by id. */
  faults(): Iterable<readonly [number, CheckedFault]>;
  /** `n` bytes were forwarded `way`. */
  forwarded(way: Way, n: number): void;
  /** A reset fault ended the conn. */
  resetFired(): void;
  /** The conn is over: both sockets are closed. */
  ended(conn: ProxiedConn): void;
  /** This conn's seed: its toxicity draws and its links' draws derive from it. */
  seed: number;
}

/** One conn through the proxy; see the module doc. */
export class ProxiedConn {
  #client: Conn;
  #upstream: Conn;
  #host: ProxiedHost;
  #links: readonly [Link, Link];
  #timers = new Map<number, ReturnType<typeof setTimeout>>(); // fault id -> its reset or close timer
  #random: Random; // toxicity draws
  #gets = new Map<number, boolean>(); // fault id -> whether this conn got it (its toxicity draw)
  #ended = false;
  #settled: Promise<void>;

  /**
   * Starts forwarding between `client` and `upstream`, which it owns from now on.
   */
  constructor(client: Conn, upstream: Conn, host: ProxiedHost) {
    this.#client = client;
    this.#upstream = upstream;
    this.#host = host;
    this.#random = seeded(derive(host.seed, 0));
    const linkHost = (n: number) => ({
      faults: () => this.#faults(),
      forwarded: (way: Way, bytes: number) => host.forwarded(way, bytes),
      reset: () => this.reset(),
      close: () => this.close(),
      fail: () => this.#end("reset"),
      random: seeded(derive(host.seed, n)),
    });
    this.#links = [
      new Link("upstream", client, upstream, linkHost(1)),
      new Link("downstream", upstream, client, linkHost(2)),
    ];
    for (const [id, fault] of host.faults()) this.faultAdded(id, fault);
    const both = Promise.all(this.#links.map((l) => l.done));
    this.#settled = both.then(() => this.#end("close"));
  }

  /** Bytes the proxy holds for this conn, both ways: read and not yet forwarded. */
  get held(): number {
    return this.#links[0].held + this.#links[1].held;
  }

  /** Whether the conn is over: both sockets closed. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Draws whether this conn gets the fault (its toxicity), arms its timer if
   * it is a timed reset or a timeout, and wakes the links.
   */
  faultAdded(id: number, fault: CheckedFault): void {
    if (this.#ended) return;
    const gets = fault.toxicity >= 1 || this.#random() < fault.toxicity;
    this.#gets.set(id, gets);
    if (gets && fault.kind === "reset" && fault.afterMs !== undefined) {
      this.#timers.set(id, setTimeout(() => this.reset(), fault.afterMs));
    }
    if (gets && fault.kind === "timeout" && fault.ms > 0) {
      this.#timers.set(id, setTimeout(() => this.close(), fault.ms));
    }
    for (const link of this.#links) link.wake();
  }

  /** The faults in force that this conn got. */
  *#faults(): Iterable<readonly [number, CheckedFault]> {
    for (const entry of this.#host.faults()) if (this.#gets.get(entry[0])) yield entry;
  }

  /** Disarms the fault's timed reset, if any, and wakes the links. */
  faultRemoved(id: number): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
    this.#gets.delete(id);
    for (const link of this.#links) link.wake();
  }

  /** Resets both sides (a reset fault fired). */
  reset(): void {
    if (this.#ended) return;
    this.#host.resetFired();
    this.#end("reset");
  }

  /** Closes both sides (FIN), data still queued in the proxy dropped. */
  close(): void {
    this.#end("close");
  }

  #end(how: "close" | "reset"): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    for (const link of this.#links) link.close();
    for (const conn of [this.#client, this.#upstream]) {
      if (how === "reset") reset(conn);
      else conn.close();
    }
    this.#host.ended(this);
  }

  /**
   * Waits until the conn is over (both EOFs forwarded, a reset, a failure,
   * or {@linkcode ProxiedConn.close}) and the runtime has ended every
   * operation on both sockets.
   */
  async finished(): Promise<void> {
    await this.#settled;
    await Promise.all([this.#client[Symbol.asyncDispose](), this.#upstream[Symbol.asyncDispose]()]);
  }
}
