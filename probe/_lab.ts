/**
 * The probe's experiment shape and its Lab: the loopback conns an experiment
 * opens, owned so that every one is closed when the experiment ends or runs
 * out of time. Internal to the probe.
 *
 * @module
 */

import {
  dial,
  type DialOptions,
  listen,
  type Listener,
  type ListenOptions,
  type TcpConn,
} from "../mod.ts";
import { within } from "./_io.ts";
import type { GoCases, GoPeer, GoResult } from "./_go.ts";

/** What one experiment measured. */
export interface Outcome {
  /** What happened here, in a few words with the numbers. */
  netconn: string;
  /** The same experiment on a raw `Deno.Conn`, when it was measured. */
  raw?: string;
  /** The measured numbers, by name (bytes, ms, counts). */
  numbers: Record<string, number>;
  /** Measured words, by name, e.g. `{ error: "reset" }` (a NetError's kind). */
  facts?: Record<string, string>;
  /** True when netconn behaved as Go's contract says. */
  ok: boolean;
  /** Tables printed below the probe's own (the write-block sweep's grid). */
  tables?: ProbeTable[];
}

/** A table of an experiment's own, printed after the probe's table. */
export interface ProbeTable {
  /** What the table shows, on the line above it. */
  title: string;
  /** The column headers. */
  head: string[];
  /** The cells, a row at a time, as many as `head` has. */
  rows: string[][];
}

/** Whether a row's figures and Go's agree, and if not, how they differ. */
export interface Agreement {
  /** True when netconn did what Go did, figure for figure within the row's tolerance. */
  agree: boolean;
  /** What differs (or, when they agree, the figures set side by side). */
  note?: string;
}

/** One of the article's experiments: a row of the probe's table. */
export interface Experiment {
  /** The case, e.g. `"write blocking"`. */
  name: string;
  /** What Go does, in a few words, as Go documents it: the Go column when Go is not measured. */
  go: string;
  /**
   * The case of the probe's Go program (`probe/go/`) that measures the same
   * thing with Go, when there is one; its figures are set beside netconn's.
   */
  goCase?: string;
  /**
   * Compares Go's measured figures with this row's; needed with `goCase`. A
   * difference here fails the row (after new attempts); a difference netconn
   * makes on purpose belongs in `decision`, not here.
   */
  compare?(go: GoResult, ours: Outcome): Agreement;
  /**
   * For a row where netconn differs from Go on purpose: given this run's
   * outcome and Go's figures (undefined when Go was not measured), the
   * decision's reason as the README states it when the run shows the
   * difference, else undefined. Such a row counts as a difference and does
   * not fail the probe.
   */
  decision?(ours: Outcome, go: GoResult | undefined): string | undefined;
  /** True when the experiment runs a Go peer (a cross-runtime row): without Go it is skipped. */
  needsGo?: boolean;
  /** The experiment's time limit in milliseconds. @default {5000} */
  limitMs?: number;
  /**
   * Permissions beyond `--allow-net` the experiment needs (e.g. `"ffi"` for a
   * socket option set through libc). Without them its row says so and is
   * skipped, which does not fail the probe.
   */
  needs?: Deno.PermissionName[];
  /** Runs the experiment; everything it opens through `lab` is closed afterwards. */
  run(lab: Lab): Promise<Outcome>;
}

/** The loopback host every experiment uses. */
export const LOOPBACK = "127.0.0.1";

/**
 * Lab owns what one experiment opens, and its time limit. When the limit
 * passes (or the experiment ends) it closes everything, which ends every
 * pending operation on those resources; later opens fail.
 */
export class Lab {
  #closers: (() => void | Promise<void>)[] = [];
  #controller = new AbortController();
  #closing: Promise<void> | null = null;
  #go: GoCases | undefined;

  /** A lab; `go` runs Go peers for the cross-runtime rows. */
  constructor(go?: GoCases) {
    this.#go = go;
  }

  /**
   * Starts a case of the Go program as a peer (see {@linkcode GoCases.spawn});
   * it is killed, if still running, when the lab closes.
   */
  goPeer(goCase: string, addr?: string): GoPeer {
    this.#checkOpen();
    if (this.#go === undefined) throw new Error("This row needs Go");
    const peer = this.#go.spawn(goCase, addr);
    return this.track(peer, () => peer.close());
  }

  /** Aborts when the experiment's time is up or it has ended. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Listens on a free loopback port. */
  listen(options: ListenOptions = {}): Listener {
    this.#checkOpen();
    const ln = listen(`${LOOPBACK}:0`, options);
    return this.track(ln, () => ln[Symbol.asyncDispose]());
  }

  /** Dials `ln` (or any address) with `options`; the dial also ends with the lab. */
  async dial(address: Deno.NetAddr | string, options: DialOptions = {}): Promise<TcpConn> {
    this.#checkOpen();
    const signal = options.signal === undefined
      ? this.signal
      : AbortSignal.any([options.signal, this.signal]);
    const conn = await dial(address, { ...options, signal });
    return this.track(conn, () => conn[Symbol.asyncDispose]());
  }

  /** A connected pair on a fresh listener: `client` dialled, `server` accepted. */
  async pair(options: { dial?: DialOptions; listen?: ListenOptions } = {}): Promise<ConnPair> {
    const listener = this.listen(options.listen);
    const [client, server] = await Promise.all([
      this.dial(listener.addr, options.dial),
      listener.accept({ signal: this.signal }).then((c) =>
        this.track(c, () => c[Symbol.asyncDispose]())
      ),
    ]);
    return { client, server, listener };
  }

  /** A connected pair of raw `Deno.TcpConn`s, for the raw-Deno contrast. */
  async rawPair(): Promise<RawPair> {
    this.#checkOpen();
    const ln = Deno.listen({ hostname: LOOPBACK, port: 0, transport: "tcp" });
    this.track(ln, () => ln.close());
    const [client, server] = await Promise.all([
      Deno.connect({ hostname: LOOPBACK, port: ln.addr.port, transport: "tcp" }),
      ln.accept(),
    ]);
    this.track(client, () => client.close());
    this.track(server, () => server.close());
    return { client, server };
  }

  /** Closes `resource` with `close` when the lab ends; returns it. */
  track<T>(resource: T, close: () => void | Promise<void>): T {
    this.#closers.push(close);
    if (this.signal.aborted) {
      void this.close();
      this.#checkOpen();
    }
    return resource;
  }

  /**
   * Closes everything, newest first, and waits (at most a second) until the
   * runtime has ended every operation on it; later opens fail. Idempotent.
   */
  close(reason = "the experiment ended"): Promise<void> {
    if (!this.signal.aborted) this.#controller.abort(new Error(reason));
    const closing = this.#closers.splice(0).reverse().map(async (close) => {
      try {
        await close();
      } catch {
        // Closed already (a raw Deno resource throws on a second close).
      }
    });
    const previous = this.#closing ?? Promise.resolve();
    this.#closing = Promise.all([previous, ...closing]).then(() => {});
    return within(this.#closing, 1000).then(() => {});
  }

  #checkOpen(): void {
    if (this.signal.aborted) throw this.signal.reason;
  }
}

/** A dialled and an accepted {@linkcode Conn}, and their listener. */
export interface ConnPair {
  client: TcpConn;
  server: TcpConn;
  listener: Listener;
}

/** A connected pair of raw Deno conns. */
export interface RawPair {
  client: Deno.TcpConn;
  server: Deno.TcpConn;
}
