// The RESP server of examples/resp_server.ts under redis-benchmark, on
// serve() beside the same protocol code on raw Deno.listen, in one run:
//
//   deno run --allow-net --allow-run --allow-read --allow-ffi bench/resp.ts [--requests=100000] [--rounds=3] [--clients=50]
//
// Each server runs in its own process (netconn with --allow-ffi, its
// kernel-first I/O, and without it); the rounds alternate the servers so
// that load from elsewhere lands on all of them. Per command (PING_INLINE,
// PING_MBULK, SET, GET) it prints each server's median requests per second
// and netconn's ratio to raw Deno, and the CPU time each server process spent
// per request (read from /proc: steadier than req/s on a loaded machine).
// redis-benchmark must report no errors.
//
//   deno run --allow-net [--allow-ffi] bench/resp.ts serve raw|netconn
//     one server, printing its port; the driver starts these.

import { listen, serve } from "../mod.ts";
import { respSession } from "../examples/resp_server.ts";

type Variant = "raw" | "netconn" | "netconn-no-ffi" | "loop" | "loop-no-ffi";

function serveOne(kind: string): void {
  const store = new Map<string, Uint8Array>();
  let port: number;
  if (kind === "raw") {
    const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    port = ln.addr.port;
    (async () => {
      for await (const conn of ln) {
        respSession(conn, store).catch(() => {}).finally(() => {
          try {
            conn.close();
          } catch { /* closed */ }
        });
      }
    })();
  } else if (kind === "loop") {
    const ln = listen("127.0.0.1:0");
    port = ln.addr.port;
    (async () => {
      for await (const conn of ln) {
        respSession(conn, store).catch(() => {}).finally(() => conn.close());
      }
    })();
  } else {
    const server = serve(listen("127.0.0.1:0"), (conn) => respSession(conn, store));
    port = server.addr.port;
  }
  console.log(JSON.stringify({ port }));
}

function flag(name: string, fallback: number): number {
  const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : Number(arg.slice(name.length + 3));
}

/** Starts a server process; returns its port and a stop function. */
/** A server process: its port, its CPU time so far, and how to stop it. */
interface ServerProcess {
  port: number;
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

/** A process's CPU time (user + system) in ms, from /proc (read with cat: Deno guards /proc). */
async function cpuMs(pid: number): Promise<number> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/stat`], stdout: "piped" })
    .output();
  const stat = new TextDecoder().decode(out.stdout);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime: 100 ticks a second
}

async function start(variant: Variant): Promise<ServerProcess> {
  const flags = variant.endsWith("no-ffi") || variant === "raw"
    ? ["--allow-net"]
    : ["--allow-net", "--allow-ffi"];
  const kind = variant.replace("-no-ffi", "");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, new URL(import.meta.url).pathname, "serve", kind],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the ${variant} server ended`);
    text += value;
  }
  const { port } = JSON.parse(text.slice(0, text.indexOf("\n")));
  return {
    port,
    cpuMs: () => cpuMs(child.pid),
    stop: async () => {
      child.kill("SIGKILL");
      await child.status;
      await reader.cancel();
    },
  };
}

/** One redis-benchmark run: requests per second by test. */
async function benchmark(
  port: number,
  clients: number,
  requests: number,
  tests: string,
): Promise<Map<string, number>> {
  const out = await new Deno.Command("redis-benchmark", {
    args: [
      "-h",
      "127.0.0.1",
      "-p",
      `${port}`,
      "-c",
      `${clients}`,
      "-n",
      `${requests}`,
      "-t",
      tests,
      "--csv",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  if (out.code !== 0 || /error/i.test(stdout + stderr.replace(/WARNING.*\n/g, ""))) {
    throw new Error(`redis-benchmark failed (exit ${out.code}): ${stdout}${stderr}`);
  }
  const rps = new Map<string, number>();
  for (const line of stdout.split("\n").slice(1)) {
    const [test, value] = line.split(",").map((f) => f.replaceAll('"', ""));
    if (test && value) rps.set(test, Number(value));
  }
  return rps;
}

const NAMES: Record<Variant, string> = {
  raw: "raw Deno.listen",
  netconn: "serve()",
  "netconn-no-ffi": "serve() without --allow-ffi",
  loop: "netconn for-await loop",
  "loop-no-ffi": "netconn loop without --allow-ffi",
};

/** Rates as whole numbers, CPU times with two decimals. */
function show(x: number): string {
  return x < 100 ? x.toFixed(2) : x.toFixed(0);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const requests = flag("requests", 100_000);
  const rounds = flag("rounds", 5);
  const clients = flag("clients", 50);
  const only = Deno.args.find((a) => a.startsWith("--variants="));
  const variants =
    (only?.slice(11).split(",") ?? ["raw", "netconn", "netconn-no-ffi"]) as Variant[];
  if (variants[0] !== "raw") throw new Error("--variants must start with raw");
  // rps[variant][test] per round, and ratios to raw taken within each round.
  const rps = new Map<Variant, Map<string, number[]>>(variants.map((v) => [v, new Map()]));
  const ratios = new Map<Variant, Map<string, number[]>>(variants.map((v) => [v, new Map()]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    const got = new Map<Variant, Map<string, number>>();
    for (const variant of order) {
      const server = await start(variant);
      try {
        await benchmark(server.port, clients, 10_000, "ping"); // warm-up: the JIT, the pools
        const cpuBefore = await server.cpuMs();
        const rates = await benchmark(server.port, clients, requests, "ping,set,get");
        // CPU per request: what the server spent, whatever else the machine was doing.
        rates.set(
          "server CPU µs/request",
          (await server.cpuMs() - cpuBefore) * 1000 / (requests * 4),
        );
        got.set(variant, rates);
      } finally {
        await server.stop();
      }
    }
    for (const variant of variants) {
      for (const [test, value] of got.get(variant)!) {
        push(rps, variant, test, value);
        const raw = got.get("raw")!.get(test)!;
        // A ratio above 1 is netconn doing better: more requests a second, less CPU each.
        push(ratios, variant, test, test.includes("CPU") ? raw / value : value / raw);
      }
    }
  }
  console.log(
    `redis-benchmark -c ${clients} -n ${requests} -t ping,set,get: median of ${rounds} rounds, ` +
      "ratios taken within each round; redis-benchmark reported no errors. Rows: requests a " +
      "second, and the server's CPU time a request (its ratio is raw ÷ netconn: above 1, " +
      "netconn spends less)",
  );
  const others = variants.slice(1);
  console.log(
    `| test | raw | ${others.map((v) => `${NAMES[v]} | ratio`).join(" | ")} |`,
  );
  console.log(`| --- | ---: | ${others.map(() => "---: | ---:").join(" | ")} |`);
  for (const test of rps.get("raw")!.keys()) {
    const cells = others.map((v) =>
      `${show(median(rps.get(v)!.get(test)!))} | ${median(ratios.get(v)!.get(test)!).toFixed(2)}×`
    );
    console.log(
      `| ${test} | ${show(median(rps.get("raw")!.get(test)!))} | ${cells.join(" | ")} |`,
    );
  }
}

function push(
  table: Map<Variant, Map<string, number[]>>,
  v: Variant,
  test: string,
  x: number,
): void {
  const list = table.get(v)!.get(test) ?? [];
  list.push(x);
  table.get(v)!.set(test, list);
}

if (Deno.args[0] === "serve") serveOne(Deno.args[1] ?? "netconn");
else await main();
