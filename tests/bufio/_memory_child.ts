// A subprocess for tests/bufio/memory_test.ts: a fresh isolate, so that no
// other test's garbage is collected while it measures. It reads an endless
// line with a limit of N MiB and prints one line of JSON: the error's name,
// the partial's length (readString) and how far Deno.memoryUsage().external
// grew, from before the call to just after it failed.
//
//   deno run --allow-read tests/bufio/_memory_child.ts read-string 64
//   deno run --allow-read tests/bufio/_memory_child.ts line-reader 64

import { BufReader, LineReader } from "../../bufio/mod.ts";
import { EndlessReader } from "../_iotest.ts";

const limit = Number(Deno.args[1]) * 1024 * 1024;
const bufferSize = 64 * 1024;
const before = Deno.memoryUsage().external;
const err = Deno.args[0] === "read-string"
  ? await new BufReader(new EndlessReader(), bufferSize).readString("\n", { maxLength: limit })
    .catch((e) => e)
  : await new LineReader(new EndlessReader(), { maxLineLength: limit, bufferSize }).readLine()
    .catch((e) => e);
const grown = Deno.memoryUsage().external - before;
console.log(JSON.stringify({ name: err?.name, partial: err?.partial?.length, grown }));
