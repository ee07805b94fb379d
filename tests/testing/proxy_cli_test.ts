// Tests for the proxy's command line: flags parsed into faults, bad flags
// rejected, and one run in a subprocess that prints its address, forwards
// through a latency, and stops cleanly on SIGINT.
//
// Run: deno test --allow-net --allow-read --allow-run tests/testing/proxy_cli_test.ts

import assert from "node:assert/strict";
import { type Conn, dial, listen } from "../../mod.ts";
import { parseProxyArgs, UsageError } from "../../testing/proxy_cli.ts";
import { delay, mustSettle } from "../../_kit/wait.ts";
import { onPath } from "../../_kit/child.ts";
// A dev-only client nobody here wrote; the package has no import map.
// deno-lint-ignore no-import-prefix
import { Toxiproxy } from "npm:toxiproxy-node-client@4.1.0";
import { roundTrip } from "./_through.ts";

const CLI = new URL("../../testing/proxy_cli.ts", import.meta.url).pathname;

Deno.test("proxy cli: flags become faults, with the direction given", () => {
  assert.deepEqual(parseProxyArgs(["--upstream", "127.0.0.1:6379"]), {
    upstream: "127.0.0.1:6379",
    listen: "127.0.0.1:0",
    faults: [],
  });
  const args = parseProxyArgs([
    "--upstream=127.0.0.1:6379",
    "--listen=127.0.0.1:7000",
    "--direction=downstream",
    "--latency=100",
    "--jitter=10",
    "--bandwidth=1000",
    "--slice=1",
    "--slice-delay=5",
    "--silence",
    "--cut=9",
    "--reset-after=20",
    "--reset-ms=30",
    "--refuse",
    "--slow-close=40",
  ]);
  const direction = "downstream";
  assert.deepEqual(args, {
    upstream: "127.0.0.1:6379",
    listen: "127.0.0.1:7000",
    faults: [
      { kind: "latency", ms: 100, jitter: 10, direction },
      { kind: "bandwidth", bytesPerSecond: 1000, direction },
      { kind: "slice", size: 1, delay: 5, direction },
      { kind: "silence", direction },
      { kind: "cut", after: 9, direction },
      { kind: "reset", after: 20, afterMs: 30, direction },
      { kind: "refuse" },
      { kind: "slow-close", ms: 40, direction },
    ],
  });
  assert.equal(parseProxyArgs(["--help"]), "help");
});

Deno.test("proxy cli: bad flags are UsageErrors", () => {
  const bad = [
    [],
    ["--upstream"],
    ["--upstream", "a:1", "--bogus"],
    ["--upstream", "a:1", "extra"],
    ["--upstream", "a:1", "--latency", "x"],
    ["--upstream", "a:1", "--latency", "-5"],
    ["--upstream", "a:1", "--jitter", "5"],
    ["--upstream", "a:1", "--slice-delay", "5"],
    ["--upstream", "a:1", "--direction", "sideways"],
    ["--upstream", "a:1", "--silence=yes"],
    ["--upstream", "a:1", "--latency", "5", "--latency", "6"],
    ["--upstream", "a:1", "--upstream", "b:2"],
    ["--upstream", "a:1", "--silence", "--silence"],
    ["--upstream", "127.0.0.1::6379"],
    ["--upstream", "a b:80"],
    ["--upstream", "127.0.0.1:0"],
    ["--upstream", "a:1", "--listen", "nowhere"],
    ["--upstream", "a:1", "--listen", "127.0.0.1:99999"],
    ["--upstream", "a:1", "--seed", "1.5"],
    ["--upstream", "a:1", "--seed", "4294967296"],
    ["--upstream", "a:1", "--slice-variation", "2"],
    ["--api", "127.0.0.1:8474", "--latency", "5"],
    ["--api", "127.0.0.1:8474", "--upstream", "a:1"],
    ["--api", "localhost"],
    ["--api", "1:2", "--api", "1:3"],
  ];
  for (const args of bad) assert.throws(() => parseProxyArgs(args), UsageError, args.join(" "));
});

Deno.test("proxy cli: --api, --seed and the new faults parse", () => {
  assert.deepEqual(parseProxyArgs(["--api", "127.0.0.1:8474", "--seed", "9"]), {
    api: "127.0.0.1:8474",
    seed: 9,
  });
  assert.deepEqual(
    parseProxyArgs([
      "--upstream=127.0.0.1:1",
      "--slice=10",
      "--slice-variation=3",
      "--timeout=50",
      "--limit-data=7",
      "--seed=0",
    ]),
    {
      upstream: "127.0.0.1:1",
      listen: "127.0.0.1:0",
      seed: 0,
      faults: [
        { kind: "slice", size: 10, sizeVariation: 3, delay: 0, direction: "both" },
        { kind: "timeout", ms: 50, direction: "both" },
        { kind: "limit-data", bytes: 7, direction: "both" },
      ],
    },
  );
});

Deno.test("proxy cli: a bad flag or value prints the usage and exits 2", async () => {
  for (
    const args of [
      ["--bogus"],
      ["--upstream", "127.0.0.1:1", "--slice", "0"],
      ["--upstream", "127.0.0.1:1", "--listen", "nowhere"],
      ["--upstream", "127.0.0.1::6379"],
      ["--upstream", "127.0.0.1:1", "--latency", "1", "--latency", "2"],
    ]
  ) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", CLI, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 2, args.join(" "));
    assert.match(new TextDecoder().decode(out.stderr), /Usage: deno task proxy/);
  }
});

Deno.test("proxy cli: prints its address, forwards with the faults asked, stops on SIGINT", async () => {
  await using server = listen("127.0.0.1:0");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      CLI,
      "--upstream",
      `127.0.0.1:${server.addr.port}`,
      "--latency",
      "50",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const stdout = new Response(child.stdout).body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    while (!text.includes("\n")) {
      const { value, done } = await mustSettle(stdout.read(), 5000, "the address line");
      if (done) assert.fail(`stdout ended before a line: "${text}"`);
      text += value;
    }
    const address = text.split("\n")[0]!;
    assert.match(address, /^127\.0\.0\.1:\d+$/);
    {
      await using conn = await dial(address);
      await using peer = await server.accept();
      const took = await roundTrip(conn, peer);
      assert.ok(
        took >= 45 && took < 200,
        `a write through --latency 50 took ${took.toFixed(1)} ms`,
      );
    }
  } finally {
    child.kill("SIGINT");
    while (!(await stdout.read()).done); // to EOF, so the pipe closes
  }
  const status = await mustSettle(child.status, 5000, "the proxy's exit");
  assert.equal(status.code, 0);
  assert.match(await stderr, /stopped; conns 1 .*bytes up 4/);
});

Deno.test("proxy cli: --api serves toxiproxy's API, which toxiproxy's node client drives", async () => {
  await using server = listen("127.0.0.1:0");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", CLI, "--api", "127.0.0.1:0", "--seed", "3"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const stdout = new Response(child.stdout).body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    while (!text.includes("\n")) {
      const { value, done } = await mustSettle(stdout.read(), 5000, "the API's address line");
      if (done) assert.fail(`stdout ended before a line: "${text}"`);
      text += value;
    }
    const api = text.split("\n")[0]!;
    assert.match(api, /^127\.0\.0\.1:\d+$/);
    const client = new Toxiproxy(`http://${api}`);
    const proxy = await client.createProxy({
      name: "echo",
      listen: "127.0.0.1:0",
      upstream: `127.0.0.1:${server.addr.port}`,
    });
    await proxy.addToxic({ type: "latency", attributes: { latency: 50 } } as never);
    {
      await using conn = await dial(proxy.listen);
      await using peer = await server.accept();
      const took = await roundTrip(peer, conn);
      assert.ok(took >= 45 && took < 200, `a write through latency 50 took ${took.toFixed(1)} ms`);
    }
    await proxy.remove();
  } finally {
    child.kill("SIGINT");
    while (!(await stdout.read()).done); // to EOF, so the pipe closes
  }
  const status = await mustSettle(child.status, 5000, "the proxy's exit");
  assert.equal(status.code, 0);
  assert.match(await stderr, /toxiproxy's API on http:\/\/127\.0\.0\.1:\d+; seed 3/);
});

/** A process's resident memory, in KiB, as `ps` tells it. */
async function rssKiB(pid: number): Promise<number> {
  const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)] }).output();
  return Number(new TextDecoder().decode(out.stdout).trim());
}

for (const ffi of [true, false]) {
  // Measured on the dev machine: about 270 KiB a conn with FFI, 450 without
  // (docs/testing.md); the bounds leave room for the allocator's noise.
  const bound = ffi ? 400 : 640;
  Deno.test({
    name: `proxy cli: memory under silence is bounded: under ${bound} KiB a conn ${
      ffi ? "with" : "without"
    } --allow-ffi (Linux)`,
    ignore: Deno.build.os !== "linux" || !onPath("ps"),
    fn: async () => {
      const N = 32;
      await using server = listen("127.0.0.1:0");
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-net",
          ...(ffi ? ["--allow-ffi"] : []),
          CLI,
          "--upstream",
          `127.0.0.1:${server.addr.port}`,
          "--silence",
          "--direction",
          "downstream",
        ],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const conns: Conn[] = [];
      const writes: Promise<unknown>[] = [];
      try {
        let text = "";
        while (!text.includes("\n")) {
          const { value, done } = await mustSettle(stdout.read(), 5000, "the address line");
          if (done) assert.fail("the proxy ended");
          text += value;
        }
        const address = text.trim();
        for (let i = 0; i < N; i++) conns.push(await dial(address), await server.accept());
        await delay(300);
        const before = await rssKiB(child.pid);
        const big = new Uint8Array(4 << 20); // far more than the proxy and the kernel hold
        for (let i = 1; i < conns.length; i += 2) writes.push(conns[i]!.write(big).catch(() => {}));
        // Until the proxy's memory stops growing (growing waits, at most ~8 s).
        let last = -1;
        for (let ms = 300; ms < 2000; ms = Math.ceil(ms * 1.25)) {
          await delay(ms);
          const now = await rssKiB(child.pid);
          if (now === last) break;
          last = now;
        }
        const per = (await rssKiB(child.pid) - before) / N;
        assert.ok(per < bound, `${per.toFixed(0)} KiB a conn under silence; the bound is ${bound}`);
      } finally {
        for (const c of conns) c.close();
        await Promise.all(writes);
        child.kill("SIGINT");
        while (!(await stdout.read()).done);
        await child.status;
      }
    },
  });
}
