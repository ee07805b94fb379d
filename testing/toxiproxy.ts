/**
 * Toxiproxy: toxiproxy's REST API over {@linkcode FaultProxy}s, so that
 * toxiproxy's clients (about ten languages, Testcontainers modules) drive
 * netconn's proxy, in-process or from another process.
 *
 * @module
 */

import { parseAddress } from "../address.ts";
import type { Fault } from "./_fault.ts";
import { json, route } from "./_toxiproxy_routes.ts";
import {
  attributesOf,
  bad,
  checkToxicity,
  faultOf,
  TOXIC_TYPES,
  type ToxicStream,
  ToxiproxyError,
  TYPES,
} from "./_toxics.ts";

export { TOXIC_TYPES, type ToxicStream, ToxiproxyError };
import { FaultProxy } from "./fault_proxy.ts";
import { derive, freshSeed } from "./_rand.ts";

/** A toxic as toxiproxy's API shows it. */
export interface Toxic {
  /** Its name, unique in its proxy; `type_stream` by default. */
  name: string;
  /** Its type: one of {@linkcode TOXIC_TYPES}. */
  type: string;
  /** Which way it applies. */
  stream: ToxicStream;
  /** The chance, from 0 to 1, that a conn gets it. */
  toxicity: number;
  /** Its attributes, by toxiproxy's names (every one, defaults filled in). */
  attributes: Record<string, number>;
}

/** What {@linkcode Toxiproxy.addToxic} takes: a toxic, with defaults for all but `type`. */
export interface ToxicConfig {
  /** Its name. @default {`${type}_${stream}`} */
  name?: string;
  /** Its type: one of {@linkcode TOXIC_TYPES}. */
  type: string;
  /** Which way it applies. @default {"downstream"} */
  stream?: ToxicStream;
  /** The chance, from 0 to 1, that a conn gets it. @default {1} */
  toxicity?: number;
  /** Its attributes; a missing one is 0, as in toxiproxy. */
  attributes?: Record<string, number>;
}

/** A proxy as toxiproxy's API shows it. */
export interface ToxiproxyProxy {
  /** Its name. */
  name: string;
  /** Where it listens: the port it got once it listened, if asked for port 0. */
  listen: string;
  /** Where it forwards to. */
  upstream: string;
  /** Whether it listens; a disabled proxy's port is closed, so dials to it are refused. */
  enabled: boolean;
  /** Its toxics, in the order added. */
  toxics: Toxic[];
}

/** What {@linkcode Toxiproxy.createProxy} takes. */
export interface ProxyConfig {
  /** Its name. */
  name: string;
  /** Where to listen. @default {"127.0.0.1:0"} */
  listen?: string;
  /** Where to forward to: `host:port`, checked as `dial()` checks it. */
  upstream: string;
  /** Whether it listens from the start. @default {true} */
  enabled?: boolean;
}

/** Options for {@linkcode Toxiproxy}. */
export interface ToxiproxyOptions {
  /**
   * The seed of every proxy's random draws (jitter, size variation,
   * toxicity); each proxy's is derived from it and its name.
   * @default {a fresh random seed}
   */
  seed?: number;
}

interface ProxyState {
  config: { name: string; listen: string; upstream: string; enabled: boolean };
  toxics: Map<string, { toxic: Toxic; fault: Fault | null; id: number | null }>;
  running: FaultProxy | null;
}

/**
 * Toxiproxy is toxiproxy's control, in-process: named proxies (each a
 * {@linkcode FaultProxy}) with named toxics, created, changed and removed
 * with the same operations and the same JSON as toxiproxy's REST API.
 * {@linkcode Toxiproxy.serve} puts that API on HTTP, so toxiproxy's own
 * clients drive it (`deno task proxy --api 127.0.0.1:8474` does that from the
 * command line); {@linkcode Toxiproxy.handle} answers one request, for tests
 * that call it without a socket.
 *
 * Toxics take toxiproxy's names and attributes: `latency` (latency, jitter:
 * ms), `bandwidth` (rate: KB/s), `slow_close` (delay: ms), `timeout`
 * (timeout: ms, 0 = drop data until removed), `reset_peer` (timeout: ms),
 * `slicer` (average_size, size_variation: bytes; delay: µs) and `limit_data`
 * (bytes), each with `stream` (`"downstream"` by default) and `toxicity`
 * (the chance a conn gets it). netconn's own faults come as toxics too:
 * `silence`, `cut` (after), `reset` (after, after_ms) and `refuse`. A disabled
 * proxy closes its port: dials to it are refused, and its open conns are
 * closed.
 *
 * Every operation throws a {@linkcode ToxiproxyError} with the status the
 * API answers: 404 for a proxy or toxic that does not exist, 409 for one that
 * does, 400 for a bad request.
 *
 * @example A latency toxic, added in-process
 * ```ts
 * import { dial, listen } from "@netconn/netconn";
 * import { Toxiproxy } from "@netconn/netconn/testing";
 * import assert from "node:assert/strict";
 *
 * await using server = listen("127.0.0.1:0");
 * await using toxiproxy = new Toxiproxy({ seed: 1 });
 * const proxy = await toxiproxy.createProxy({
 *   name: "echo",
 *   upstream: `127.0.0.1:${server.addr.port}`,
 * });
 * const toxic = await toxiproxy.addToxic("echo", {
 *   type: "latency",
 *   attributes: { latency: 50 },
 * });
 * assert.equal(toxic.name, "latency_downstream");
 * assert.deepEqual(toxic.attributes, { latency: 50, jitter: 0 });
 *
 * await using client = await dial(proxy.listen);
 * await using peer = await server.accept();
 * const start = performance.now();
 * await peer.write(new Uint8Array(1));
 * await client.read(new Uint8Array(1));
 * assert.ok(performance.now() - start >= 45);
 * ```
 */
export class Toxiproxy implements AsyncDisposable {
  #proxies = new Map<string, ProxyState>(); // in the order created
  #seed: number;
  #lock: Promise<unknown> = Promise.resolve(); // one change at a time
  #server: Deno.HttpServer<Deno.NetAddr> | null = null;
  #closed = false;

  /**
   * Makes an empty Toxiproxy: no proxies, the API not served yet.
   *
   * @param options The seed of the proxies' random draws.
   * @throws {TypeError} If an option is unknown or has the wrong type.
   * @throws {RangeError} If the seed is not an integer from 0 to 2^32 - 1.
   */
  constructor(options: ToxiproxyOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`Toxiproxy options must be an object: received ${String(options)}`);
    }
    for (const key of Object.keys(options)) {
      if (key !== "seed") throw new TypeError(`Toxiproxy has no option "${key}": it takes seed`);
    }
    const seed = options.seed ?? freshSeed();
    if (typeof seed !== "number") {
      throw new TypeError(`Toxiproxy seed must be a number: received ${typeof seed}`);
    }
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(
        `Toxiproxy seed must be an integer from 0 to 4294967295: received "${seed}"`,
      );
    }
    this.#seed = seed;
  }

  /** The seed in use: pass it as `seed` to replay a run. */
  get seed(): number {
    return this.#seed;
  }

  /**
   * Creates a proxy and, if enabled, starts listening.
   *
   * @param config Its name, listen address, upstream and whether it is enabled.
   * @returns The proxy, its listen address with the port it got.
   * @throws {ToxiproxyError} 409 if the name is taken, 400 if a field is
   *   missing or wrong, or the address cannot be listened on.
   */
  createProxy(config: ProxyConfig): Promise<ToxiproxyProxy> {
    return this.#change(() => this.#create(config));
  }

  /**
   * Creates or replaces each proxy, as toxiproxy's `/populate`: one whose
   * name exists with other settings is replaced (its toxics go).
   *
   * @param configs The proxies.
   * @returns The proxies, in the order given.
   * @throws {ToxiproxyError} 400 if one is malformed; those before it are made.
   */
  populate(configs: ProxyConfig[]): Promise<ToxiproxyProxy[]> {
    return this.#change(async () => {
      if (!Array.isArray(configs)) throw bad("populate takes an array of proxies");
      const out: ToxiproxyProxy[] = [];
      for (const config of configs) {
        const c = checkProxyConfig(config);
        const old = this.#proxies.get(c.name);
        if (old !== undefined) {
          const same = old.config.upstream === c.upstream && old.config.enabled === c.enabled &&
            (c.listen === old.config.listen || c.listen === "127.0.0.1:0");
          if (same) {
            out.push(view(old));
            continue;
          }
          await this.#delete(c.name);
        }
        out.push(await this.#create(config));
      }
      return out;
    });
  }

  /**
   * Every proxy, by name.
   *
   * @returns A snapshot.
   */
  proxies(): Record<string, ToxiproxyProxy> {
    const out: Record<string, ToxiproxyProxy> = {};
    for (const [name, state] of this.#proxies) out[name] = view(state);
    return out;
  }

  /**
   * One proxy.
   *
   * @param name Its name.
   * @returns A snapshot.
   * @throws {ToxiproxyError} 404 if there is none of that name.
   */
  proxy(name: string): ToxiproxyProxy {
    return view(this.#get(name));
  }

  /**
   * The FaultProxy behind a proxy while it is enabled, for its stats.
   *
   * @param name The proxy's name.
   * @returns The running FaultProxy, or null while the proxy is disabled.
   * @throws {ToxiproxyError} 404 if there is none of that name.
   */
  faultProxy(name: string): FaultProxy | null {
    return this.#get(name).running;
  }

  /**
   * Changes a proxy: `enabled: false` closes its port and its conns, `true`
   * listens again (on the same port); a new `listen` or `upstream` restarts
   * it.
   *
   * @param name Its name.
   * @param changes The fields to change.
   * @returns The proxy as it is now.
   * @throws {ToxiproxyError} 404 if there is none; 400 if a field is wrong.
   */
  updateProxy(
    name: string,
    changes: { enabled?: boolean; listen?: string; upstream?: string },
  ): Promise<ToxiproxyProxy> {
    return this.#change(async () => {
      const state = this.#get(name);
      if (typeof changes !== "object" || changes === null) throw bad("a proxy update is an object");
      const next = { ...state.config };
      for (const [key, value] of Object.entries(changes)) {
        if (key === "name" && value === name) continue;
        if (key === "enabled") {
          if (typeof value !== "boolean") throw bad(`enabled must be a boolean`);
          next.enabled = value;
        } else if (key === "listen" || key === "upstream") {
          if (typeof value !== "string") throw bad(`${key} must be a string`);
          next[key] = value;
        } else if (key !== "toxics") {
          throw bad(`a proxy has no field "${key}" to change (enabled, listen, upstream)`);
        }
      }
      checkAddress(next.listen, "listen");
      checkAddress(next.upstream, "upstream");
      const old = state.config;
      const moved = next.listen !== old.listen || next.upstream !== old.upstream;
      const wasRunning = state.running !== null;
      if (wasRunning && (moved || !next.enabled)) await this.#stop(state);
      state.config = next;
      if (next.enabled && state.running === null) {
        try {
          this.#start(state);
        } catch (e) {
          // The change fails whole: the proxy goes back to how it was.
          state.config = { ...old };
          if (wasRunning && state.running === null) this.#start(state);
          throw e;
        }
      }
      return view(state);
    });
  }

  /**
   * Deletes a proxy: its port closes, its conns are closed.
   *
   * @param name Its name.
   * @throws {ToxiproxyError} 404 if there is none of that name.
   */
  deleteProxy(name: string): Promise<void> {
    return this.#change(() => this.#delete(name));
  }

  /**
   * Adds a toxic to a proxy; open conns get it at once.
   *
   * @param proxy The proxy's name.
   * @param config The toxic: its type, and its name, stream, toxicity and attributes.
   * @returns The toxic, every attribute filled in.
   * @throws {ToxiproxyError} 404 if there is no such proxy, 409 if the toxic's
   *   name is taken, 400 if its type, stream, toxicity or an attribute is wrong.
   */
  addToxic(proxy: string, config: ToxicConfig): Promise<Toxic> {
    return this.#change(async () => {
      const state = this.#get(proxy);
      if (typeof config !== "object" || config === null) throw bad("a toxic is an object");
      for (const key of Object.keys(config)) {
        if (!["name", "type", "stream", "toxicity", "attributes"].includes(key)) {
          throw bad(`a toxic has no field "${key}" (name, type, stream, toxicity, attributes)`);
        }
      }
      const type = config.type;
      if (typeof type !== "string" || !(type in TYPES)) {
        throw bad(
          `toxic type must be one of ${TOXIC_TYPES.join(", ")}: received ${JSON.stringify(type)}`,
        );
      }
      const stream = config.stream ?? "downstream";
      if (stream !== "upstream" && stream !== "downstream") {
        throw bad(
          `toxic stream must be upstream or downstream: received ${JSON.stringify(stream)}`,
        );
      }
      const name = config.name ?? `${type}_${stream}`;
      if (typeof name !== "string" || name === "") throw bad("toxic name must be a string");
      if (state.toxics.has(name)) throw new ToxiproxyError("toxic already exists", 409);
      const toxic: Toxic = {
        name,
        type,
        stream,
        toxicity: checkToxicity(config.toxicity ?? 1),
        attributes: attributesOf(type, {}, config.attributes ?? {}),
      };
      const fault = faultOf(toxic);
      const entry = { toxic, fault, id: null as number | null };
      if (state.running !== null && fault !== null) entry.id = state.running.add(fault);
      state.toxics.set(name, entry);
      return await Promise.resolve(copyToxic(toxic));
    });
  }

  /**
   * A proxy's toxics.
   *
   * @param proxy The proxy's name.
   * @returns Them, in the order added.
   * @throws {ToxiproxyError} 404 if there is no such proxy.
   */
  toxics(proxy: string): Toxic[] {
    return [...this.#get(proxy).toxics.values()].map((t) => copyToxic(t.toxic));
  }

  /**
   * One toxic.
   *
   * @param proxy The proxy's name.
   * @param name The toxic's name.
   * @returns A snapshot.
   * @throws {ToxiproxyError} 404 if there is no such proxy or toxic.
   */
  toxic(proxy: string, name: string): Toxic {
    return copyToxic(this.#getToxic(this.#get(proxy), name).toxic);
  }

  /**
   * Changes a toxic's attributes or toxicity (the ones not given keep their
   * values); open conns see the change at once, and draw their toxicity again.
   *
   * @param proxy The proxy's name.
   * @param name The toxic's name.
   * @param changes New attributes, toxicity.
   * @returns The toxic as it is now.
   * @throws {ToxiproxyError} 404 if there is no such proxy or toxic; 400 if a
   *   value is wrong.
   */
  updateToxic(
    proxy: string,
    name: string,
    changes: { attributes?: Record<string, number>; toxicity?: number },
  ): Promise<Toxic> {
    return this.#change(() => {
      const state = this.#get(proxy);
      const entry = this.#getToxic(state, name);
      if (typeof changes !== "object" || changes === null) throw bad("a toxic update is an object");
      const old = entry.toxic;
      for (const [key, value] of Object.entries(changes as Record<string, unknown>)) {
        const same = (key === "name" && value === old.name) ||
          (key === "type" && value === old.type) || (key === "stream" && value === old.stream);
        if (!same && key !== "attributes" && key !== "toxicity") {
          throw bad(`a toxic's ${key} cannot be changed (attributes, toxicity)`);
        }
      }
      const toxic: Toxic = {
        ...old,
        toxicity: checkToxicity(changes.toxicity ?? old.toxicity),
        attributes: attributesOf(old.type, old.attributes, changes.attributes ?? {}),
      };
      const fault = faultOf(toxic);
      if (state.running !== null && entry.id !== null) state.running.remove(entry.id);
      entry.toxic = toxic;
      entry.fault = fault;
      entry.id = state.running !== null && fault !== null ? state.running.add(fault) : null;
      return Promise.resolve(copyToxic(toxic));
    });
  }

  /**
   * Removes a toxic; held data flows again.
   *
   * @param proxy The proxy's name.
   * @param name The toxic's name.
   * @throws {ToxiproxyError} 404 if there is no such proxy or toxic.
   */
  removeToxic(proxy: string, name: string): Promise<void> {
    return this.#change(() => {
      const state = this.#get(proxy);
      const entry = this.#getToxic(state, name);
      if (state.running !== null && entry.id !== null) state.running.remove(entry.id);
      state.toxics.delete(name);
      return Promise.resolve();
    });
  }

  /** Enables every proxy and removes every toxic, as toxiproxy's `/reset`. */
  reset(): Promise<void> {
    return this.#change(async () => {
      for (const state of this.#proxies.values()) {
        for (const entry of state.toxics.values()) {
          if (state.running !== null && entry.id !== null) state.running.remove(entry.id);
        }
        state.toxics.clear();
        if (state.running === null) {
          state.config.enabled = true;
          this.#start(state);
        }
      }
      await Promise.resolve();
    });
  }

  /**
   * Answers one request of toxiproxy's REST API: `GET /proxies`, `POST
   * /proxies`, `POST /populate`, `GET|POST|PATCH|DELETE /proxies/{proxy}`,
   * `GET|POST /proxies/{proxy}/toxics`, `GET|POST|PATCH|DELETE
   * /proxies/{proxy}/toxics/{toxic}`, `POST /reset` and `GET /version`.
   * Errors answer `{ "error": message, "status": code }`, as toxiproxy's.
   *
   * @param request The HTTP request.
   * @returns The response.
   */
  async handle(request: Request): Promise<Response> {
    try {
      return await route(this, request);
    } catch (e) {
      if (e instanceof ToxiproxyError) {
        return json({ error: e.message, status: e.status }, e.status);
      }
      const message = e instanceof Error ? e.message : String(e);
      return json({ error: message, status: 500 }, 500);
    }
  }

  /**
   * Serves the REST API over HTTP at `address` (toxiproxy's default is
   * `127.0.0.1:8474`); {@linkcode Toxiproxy.close} stops it.
   *
   * @param address Where to listen, in Go's syntax (`":8474"` is every interface).
   * @returns The address the API listens on.
   * @throws {TypeError} If the API is served already, or the address is malformed.
   */
  serve(address = "127.0.0.1:8474"): Deno.NetAddr {
    if (this.#server !== null) throw new TypeError("Toxiproxy.serve: the API is served already");
    if (this.#closed) throw new TypeError("Toxiproxy.serve: the Toxiproxy is closed");
    const { hostname, port } = parseAddress(address, "listen");
    this.#server = Deno.serve(
      { hostname: hostname || "0.0.0.0", port, onListen() {} }, // ":8474": every interface, as in Go
      (request) => this.handle(request),
    );
    return this.#server.addr;
  }

  /** Stops the API and every proxy: their ports close, their conns are closed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const server = this.#server;
    this.#server = null;
    await this.#change(async () => {
      for (const state of this.#proxies.values()) await this.#stop(state);
      this.#proxies.clear();
    });
    await server?.shutdown();
  }

  /** Same as {@linkcode Toxiproxy.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Runs `fn` after every change before it: changes never interleave. */
  #change<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn);
    this.#lock = run.catch(() => {});
    return run;
  }

  async #create(config: ProxyConfig): Promise<ToxiproxyProxy> {
    if (this.#closed) throw new ToxiproxyError("the Toxiproxy is closed", 400);
    const c = checkProxyConfig(config);
    if (this.#proxies.has(c.name)) throw new ToxiproxyError("proxy already exists", 409);
    const state: ProxyState = { config: c, toxics: new Map(), running: null };
    if (c.enabled) this.#start(state);
    this.#proxies.set(c.name, state);
    return await Promise.resolve(view(state));
  }

  async #delete(name: string): Promise<void> {
    const state = this.#get(name);
    this.#proxies.delete(name);
    await this.#stop(state);
  }

  /** Listens; the listen address keeps the port it got, so a restart takes the same one. */
  #start(state: ProxyState): void {
    const { name, listen, upstream } = state.config;
    let proxy: FaultProxy;
    try {
      proxy = new FaultProxy(upstream, {
        listen,
        seed: derive(this.#seed, hashName(name)),
      });
    } catch (e) {
      throw bad(`proxy ${name}: ${(e as Error).message}`);
    }
    const { hostname, port } = proxy.addr;
    state.config.listen = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
    for (const entry of state.toxics.values()) {
      entry.id = entry.fault === null ? null : proxy.add(entry.fault);
    }
    state.running = proxy;
  }

  async #stop(state: ProxyState): Promise<void> {
    const proxy = state.running;
    state.running = null;
    for (const entry of state.toxics.values()) entry.id = null;
    await proxy?.[Symbol.asyncDispose]();
  }

  #get(name: string): ProxyState {
    const state = this.#proxies.get(name);
    if (state === undefined) throw new ToxiproxyError("proxy not found", 404);
    return state;
  }

  #getToxic(state: ProxyState, name: string) {
    const entry = state.toxics.get(name);
    if (entry === undefined) throw new ToxiproxyError("toxic not found", 404);
    return entry;
  }
}

function view(state: ProxyState): ToxiproxyProxy {
  return {
    ...state.config,
    toxics: [...state.toxics.values()].map((t) => copyToxic(t.toxic)),
  };
}

function copyToxic(t: Toxic): Toxic {
  return { ...t, attributes: { ...t.attributes } };
}

function checkProxyConfig(config: unknown): ProxyState["config"] {
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw bad("a proxy is an object");
  }
  const c = config as Record<string, unknown>;
  for (const key of Object.keys(c)) {
    if (!["name", "listen", "upstream", "enabled", "toxics"].includes(key)) {
      throw bad(`a proxy has no field "${key}" (name, listen, upstream, enabled)`);
    }
  }
  if (typeof c.name !== "string" || c.name === "") throw bad("missing required field: name");
  if (typeof c.upstream !== "string" || c.upstream === "") {
    throw bad("missing required field: upstream");
  }
  const listen = c.listen ?? "127.0.0.1:0";
  if (typeof listen !== "string") throw bad("listen must be a string");
  const enabled = c.enabled ?? true;
  if (typeof enabled !== "boolean") throw bad("enabled must be a boolean");
  checkAddress(listen, "listen");
  checkAddress(c.upstream, "upstream");
  return { name: c.name, listen, upstream: c.upstream, enabled };
}

function checkAddress(address: string, what: "listen" | "upstream"): void {
  try {
    const { port } = parseAddress(address, what === "listen" ? "listen" : "dial");
    if (what === "upstream" && port === 0) throw new Error("port 0 cannot be dialed");
  } catch (e) {
    throw bad(`${what} address "${address}": ${(e as Error).message}`);
  }
}

function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
