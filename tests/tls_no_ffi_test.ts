// Without --allow-ffi: a TLS conn closed before its handshake ended. On the
// node:tls path netconn owns the TCP conn and closes it at once; on Deno's
// path Deno keeps the socket while its handshake runs and netconn can shut
// it only through libc, so without FFI the silent client is left waiting
// (a limit of Deno, documented in docs/tls-and-unix.md). Runs
// tests/_tls_no_ffi_child.ts in a subprocess.

import assert from "node:assert/strict";
import { denoJson } from "../_kit/child.ts";

const CHILD = new URL("./_tls_no_ffi_child.ts", import.meta.url).pathname;

Deno.test("tls without --allow-ffi: closing a conn before its handshake closes its socket on the node:tls path", async () => {
  const got = await denoJson(CHILD, ["--allow-net", "--allow-read"]);
  assert.notEqual(got.ffi, "granted");
  assert.equal(got.node, got.count, "every silent client of the node:tls path reads EOF");
  // Deno's path, for the record: the sockets stay until the peer leaves.
  console.log(`Deno's path without FFI: ${got.deno} of ${got.count} silent clients read EOF`);
});
