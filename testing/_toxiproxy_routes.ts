/**
 * The routes of toxiproxy's REST API over a {@linkcode Toxiproxy}'s methods:
 * the path and method of each request, its JSON body, and toxiproxy's
 * status codes. Internal to the testing package.
 *
 * @module
 */

import { bad, ToxiproxyError } from "./_toxics.ts";

/** The toxiproxy API version this speaks. */
const API_VERSION = "2.12.0";

/** What the routes call: a Toxiproxy's public methods (each checks its own input). */
export interface ToxiproxyApi {
  reset(): Promise<void>;
  populate(configs: unknown): Promise<unknown>;
  proxies(): unknown;
  createProxy(config: unknown): Promise<unknown>;
  proxy(name: string): unknown;
  updateProxy(name: string, changes: unknown): Promise<unknown>;
  deleteProxy(name: string): Promise<void>;
  toxics(proxy: string): unknown;
  addToxic(proxy: string, config: unknown): Promise<unknown>;
  toxic(proxy: string, name: string): unknown;
  updateToxic(proxy: string, name: string, changes: unknown): Promise<unknown>;
  removeToxic(proxy: string, name: string): Promise<void>;
}

/** Answers one request of the API by calling `api`; refused requests throw a ToxiproxyError. */
export async function route(api: ToxiproxyApi, request: Request): Promise<Response> {
  const url = new URL(request.url);
  const parts = url.pathname.split("/").filter((p) => p !== "").map(decodeURIComponent);
  const method = request.method === "PATCH" ? "POST" : request.method;
  const body = async (): Promise<unknown> => {
    const text = await request.text();
    if (text.trim() === "") return {};
    try {
      return JSON.parse(text);
    } catch {
      throw bad("the body is not JSON");
    }
  };
  const [first, name, sub, toxic, ...rest] = parts;
  if (rest.length > 0) throw new ToxiproxyError("not found", 404);
  if (first === "version" && parts.length === 1 && method === "GET") {
    return new Response(API_VERSION, { headers: { "content-type": "text/plain;charset=utf-8" } });
  }
  if (first === "reset" && parts.length === 1 && method === "POST") {
    await api.reset();
    return new Response(null, { status: 204 });
  }
  if (first === "populate" && parts.length === 1 && method === "POST") {
    return json({ proxies: await api.populate(await body()) }, 201);
  }
  if (first !== "proxies") throw new ToxiproxyError("not found", 404);
  if (name === undefined) {
    if (method === "GET") return json(api.proxies());
    if (method === "POST") return json(await api.createProxy(await body()), 201);
    throw notAllowed();
  }
  if (sub === undefined) {
    if (method === "GET") return json(api.proxy(name));
    if (method === "POST") return json(await api.updateProxy(name, await body()));
    if (method === "DELETE") {
      await api.deleteProxy(name);
      return new Response(null, { status: 204 });
    }
    throw notAllowed();
  }
  if (sub !== "toxics") throw new ToxiproxyError("not found", 404);
  if (toxic === undefined) {
    if (method === "GET") return json(api.toxics(name));
    if (method === "POST") return json(await api.addToxic(name, await body()));
    throw notAllowed();
  }
  if (method === "GET") return json(api.toxic(name, toxic));
  if (method === "POST") return json(await api.updateToxic(name, toxic, await body()));
  if (method === "DELETE") {
    await api.removeToxic(name, toxic);
    return new Response(null, { status: 204 });
  }
  throw notAllowed();
}

function notAllowed(): ToxiproxyError {
  return new ToxiproxyError("method not allowed", 405);
}

/** A JSON response. */
export function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json" },
  });
}
