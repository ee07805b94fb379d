/**
 * Connection set-up workloads: dial + close in a row against a listener that
 * accepts and closes, and accepting a batch of conns already waiting in the
 * backlog. Each checks its count, and accepting checks that every accepted
 * conn is one of the dialed ones.
 *
 * @module
 */

import { dial, listen } from "../mod.ts";
import { LOOPBACK } from "../_kit/loopback.ts";

const HOST = LOOPBACK;

/** What the workloads need of a conn. */
export interface Closable {
  readonly remoteAddr: Deno.Addr;
  close(): void;
}

/** Dials the loopback `port`. */
export type Dialer = (port: number) => Promise<Closable>;

/** Raw Deno: `Deno.connect`. */
export function rawDial(port: number): Promise<Closable> {
  return Deno.connect({ hostname: HOST, port, transport: "tcp" });
}

/** netconn: `dial`, with its defaults (NoDelay, keepalive 15 s / 15 s / 9). */
export function connDial(port: number): Promise<Closable> {
  return dial({ hostname: HOST, port });
}

/** netconn: `dial` with keepalive off, so no option goes through FFI. */
export function connDialNoKeepAlive(port: number): Promise<Closable> {
  return dial({ hostname: HOST, port }, { keepAlive: false });
}

/**
 * A raw listener that accepts and closes every conn, counting them, for the
 * dial workload. Close it when done.
 */
export class AcceptAndClose {
  #ln = Deno.listen({ hostname: HOST, port: 0, transport: "tcp" });
  #accepted = 0;
  #waiters: { n: number; resolve(): void }[] = [];
  #loop: Promise<void>;

  constructor() {
    this.#loop = this.#serve();
  }

  /** The listening port. */
  get port(): number {
    return this.#ln.addr.port;
  }

  /** Conns accepted so far. */
  get accepted(): number {
    return this.#accepted;
  }

  /** Resolves once `n` conns have been accepted in all. */
  until(n: number): Promise<void> {
    if (this.#accepted >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }

  /** Stops accepting and waits for the accept loop to end. */
  async close(): Promise<void> {
    this.#ln.close();
    await this.#loop;
  }

  async #serve(): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#ln.accept();
      } catch {
        return; // closed
      }
      conn.close();
      this.#accepted++;
      const waiting = [];
      for (const w of this.#waiters) {
        if (w.n <= this.#accepted) w.resolve();
        else waiting.push(w);
      }
      this.#waiters = waiting;
    }
  }
}

/**
 * Dials `server` `count` times in a row with `dialer`, closing each conn at
 * once, and waits until the server has accepted every one.
 */
export async function dialClose(
  dialer: Dialer,
  server: AcceptAndClose,
  count: number,
): Promise<void> {
  const target = server.accepted + count;
  for (let i = 0; i < count; i++) {
    const conn = await dialer(server.port);
    conn.close();
  }
  await server.until(target);
  if (server.accepted !== target) {
    throw new Error(`Dial: the server accepted ${server.accepted} of ${target} conns`);
  }
}

/** A listener under test: raw Deno's or netconn's. */
export interface AcceptSide {
  readonly port: number;
  accept(): Promise<Closable>;
  close(): void;
}

/** Raw Deno: `Deno.listen`, backlog 511. */
export function rawListener(): AcceptSide {
  const ln = Deno.listen({ hostname: HOST, port: 0, transport: "tcp" });
  return { port: ln.addr.port, accept: () => ln.accept(), close: () => ln.close() };
}

/** netconn: `listen`, which applies NoDelay and keepalive to each accepted conn. */
export function connListener(options: { keepAlive?: boolean } = {}): AcceptSide {
  const ln = listen({ hostname: HOST, port: 0 }, options);
  return { port: ln.addr.port, accept: () => ln.accept(), close: () => ln.close() };
}

/** Conns waiting in a listener's backlog, dialed by raw Deno. */
export interface Backlog {
  clients: Deno.TcpConn[];
  ports: Set<number>;
}

/** Dials `count` raw conns to `port` (16 at a time) and leaves them unaccepted. */
export async function fillBacklog(port: number, count: number): Promise<Backlog> {
  const clients: Deno.TcpConn[] = [];
  for (let i = 0; i < count; i += 16) {
    const batch = Array.from(
      { length: Math.min(16, count - i) },
      () => Deno.connect({ hostname: HOST, port, transport: "tcp" }),
    );
    clients.push(...await Promise.all(batch));
  }
  return { clients, ports: new Set(clients.map((c) => c.localAddr.port)) };
}

/**
 * Accepts every conn of `backlog` from `side` and closes it; checks each is
 * one of the dialed conns, once.
 */
export async function acceptAll(side: AcceptSide, backlog: Backlog): Promise<void> {
  const left = new Set(backlog.ports);
  for (let i = 0; i < backlog.clients.length; i++) {
    const conn = await side.accept();
    const port = (conn.remoteAddr as Deno.NetAddr).port;
    conn.close();
    if (!left.delete(port)) throw new Error(`Accept: conn from unknown or repeated port ${port}`);
  }
}

/** Closes the client ends of `backlog`. */
export function closeBacklog(backlog: Backlog): void {
  for (const c of backlog.clients) c.close();
}
