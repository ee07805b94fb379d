// What a reset fault does without --allow-ffi: Deno's close sends FIN before
// it closes, so the peers read EOF instead of a reset, and their later
// writes fail. Runs tests/testing/_no_ffi_child.ts in a subprocess.
//
// Run: deno test --allow-net --allow-read --allow-run tests/testing/reset_no_ffi_test.ts

import assert from "node:assert/strict";
import { denoJson } from "../../_kit/child.ts";

const CHILD = new URL("./_no_ffi_child.ts", import.meta.url).pathname;

Deno.test("reset without --allow-ffi: a close, so peers read EOF and later writes fail", async () => {
  const got = await denoJson(CHILD, ["--allow-net"]);
  assert.equal(got.resetSupported, false);
  assert.equal(got.before, 10, "forwarding works without FFI");
  assert.equal(got.clientRead, "EOF");
  assert.equal(got.serverRead, "EOF");
  const writes = got.clientWrites as (number | string)[];
  assert.equal(writes[0], 10, "the first write goes to the kernel");
  assert.ok(["broken-pipe", "reset"].includes(String(writes[1])), `then ${writes[1]}`);
  assert.equal(got.resets, 1);
});
