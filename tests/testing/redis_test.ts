// A real server behind FaultProxy: redis-server on a free loopback port, in a
// temporary directory, with persistence off. Skipped, with a message, when
// redis-server is not on PATH.
//
// Run: deno test --allow-net --allow-ffi --allow-read --allow-run --allow-env tests/testing/redis_test.ts

import assert from "node:assert/strict";
import { type Conn, dial, listen, type NetError, TimeoutError } from "../../mod.ts";
import { BufReader } from "../../bufio/mod.ts";
import { FaultProxy } from "../../testing/mod.ts";
import { delay, eventually, mustReject, mustSettle } from "../../_kit/wait.ts";

/** The path of `redis-server`, or undefined when it is not on PATH. */
function findRedis(): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    const path = `${dir}/redis-server`;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

const REDIS = findRedis();
if (REDIS === undefined) console.warn("redis_test.ts: redis-server is not on PATH; skipped");

/** Runs a program and returns its stdout; the test task grants --allow-run, not --allow-write. */
async function run(program: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(program, { args, stderr: "inherit" }).output();
  assert.equal(out.code, 0, `${program} ${args.join(" ")}`);
  return new TextDecoder().decode(out.stdout);
}

/** A fresh temporary directory for redis-server to run in. */
async function tempDir(): Promise<string> {
  return (await run("mktemp", ["-d", "-t", "netconn-redis-XXXXXX"])).trim();
}

/** One RESP command as an array of bulk strings. */
function command(...args: string[]): Uint8Array {
  const parts = args.map((a) => `$${new TextEncoder().encode(a).length}\r\n${a}\r\n`);
  return new TextEncoder().encode(`*${args.length}\r\n${parts.join("")}`);
}

/** Sends a command and reads a one-line reply (simple string, error or bulk header + body). */
async function ask(conn: Conn, reader: BufReader, ...args: string[]): Promise<string> {
  await conn.write(command(...args));
  const line = new TextDecoder().decode((await reader.readLine())?.line);
  if (!line.startsWith("$") || line === "$-1") return line;
  return new TextDecoder().decode((await reader.readLine())?.line);
}

Deno.test({
  name: "redis-server through the proxy: latency, silence against a deadline, reset",
  ignore: REDIS === undefined,
  async fn() {
    const free = listen("127.0.0.1:0");
    const port = free.addr.port;
    await free[Symbol.asyncDispose]();
    const dir = await tempDir();
    const redis = new Deno.Command(REDIS!, {
      args: ["--port", `${port}`, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      cwd: dir,
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      // Wait for redis to listen: dial with growing pauses.
      const probe = await eventually(async (ms) => {
        try {
          return await dial(`127.0.0.1:${port}`);
        } catch (e) {
          await delay(ms);
          throw e;
        }
      }, { start: 10, cap: 400 });
      probe.close();

      await using proxy = new FaultProxy(`127.0.0.1:${port}`);
      await using conn = await dial(proxy.addr);
      const reader = new BufReader(conn);
      assert.equal(await ask(conn, reader, "PING"), "+PONG");
      assert.equal(await ask(conn, reader, "SET", "k", "v"), "+OK");

      const latency = proxy.add({ kind: "latency", ms: 60, direction: "downstream" });
      const start = performance.now();
      assert.equal(await ask(conn, reader, "GET", "k"), "v");
      const took = performance.now() - start;
      assert.ok(took >= 55 && took < 200, `GET through 60 ms latency took ${took.toFixed(1)} ms`);
      proxy.remove(latency);

      const silence = proxy.add({ kind: "silence", direction: "downstream" });
      conn.setReadDeadline(Date.now() + 80);
      await mustReject(ask(conn, reader, "PING"), TimeoutError, 1000, "PING against silence");
      conn.setReadDeadline(null);
      proxy.remove(silence);
      assert.equal(new TextDecoder().decode((await reader.readLine())?.line), "+PONG");

      proxy.add({ kind: "reset" });
      const end = await mustSettle(
        conn.read(new Uint8Array(1)).then((n) => n, (e: NetError) => e),
        1000,
        "a read at the reset",
      );
      if (FaultProxy.resetSupported()) assert.equal((end as NetError).kind, "reset");
      else assert.equal(end, null);
      assert.ok(proxy.stats().bytesUpstream > 0 && proxy.stats().bytesDownstream > 0);
    } finally {
      redis.kill("SIGTERM");
      await redis.status;
      await run("rm", ["-rf", dir]);
    }
  },
});
