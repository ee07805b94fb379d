// Tests for address.ts: Go's address syntax as dial and listen take it, bad
// addresses rejected at once with a NetError of kind "invalid-address", IPv6
// on loopback, ":0" on every interface, and IPv4-mapped peers shown as IPv4.
//
// Run: deno test --allow-net tests/address_test.ts

import assert from "node:assert/strict";
import { type Address, formatAddr, joinHostPort, normalizeAddr, parseAddress } from "../address.ts";
import { dial, listen, NetError } from "../mod.ts";
import { ipv6Available } from "./_helpers.ts";
import { mustReject, mustSettle } from "../_kit/wait.ts";

const IPV6 = ipv6Available();

// [address, hostname, port], as Go's SplitHostPort and parsePort see them.
const GOOD: [Address, string, number][] = [
  ["127.0.0.1:8001", "127.0.0.1", 8001],
  ["localhost:80", "localhost", 80],
  ["example.com:443", "example.com", 443],
  ["[::1]:80", "::1", 80],
  ["[::]:0", "::", 0],
  ["[fe80::1%lo]:80", "fe80::1%lo", 80],
  ["[::ffff:127.0.0.1]:80", "::ffff:127.0.0.1", 80],
  ["[2001:db8::1]:443", "2001:db8::1", 443],
  ["[localhost]:80", "localhost", 80], // Go's SplitHostPort allows brackets around any host
  [":8001", "", 8001],
  ["127.0.0.1:", "127.0.0.1", 0], // an empty port is 0, as in Go
  [":", "", 0],
  ["127.0.0.1:65535", "127.0.0.1", 65535],
  ["127.0.0.1:080", "127.0.0.1", 80],
  ["127.0.0.1:0000000080", "127.0.0.1", 80],
  [{ hostname: "127.0.0.1", port: 80 }, "127.0.0.1", 80],
  [{ port: 80 }, "", 80],
  [{ hostname: "::1", port: 1 }, "::1", 1],
  [{ hostname: "[::1]", port: 1 }, "::1", 1],
  [{ hostname: "fe80::1%eth0", port: 1 }, "fe80::1%eth0", 1],
  [{ hostname: "::ffff:127.0.0.1", port: 1 }, "::ffff:127.0.0.1", 1],
  [{ transport: "tcp", hostname: "0.0.0.0", port: 9 } as Deno.NetAddr, "0.0.0.0", 9],
];

// [why, address]: each must be a NetError of kind "invalid-address", at once.
const BAD: [string, unknown][] = [
  ["missing port", "127.0.0.1"],
  ["missing port", "localhost"],
  ["missing port", ""],
  ["missing port", "[::1]"],
  ["too many colons", "::1"],
  ["too many colons", "::1:80"],
  ["too many colons", "1:2:3"],
  ["too many colons", "::1]:80"],
  ["missing ']'", "[::1:80"],
  ["text after ']'", "[::1]x:80"],
  ["text after ']'", "[::1]]:80"],
  ["nested brackets", "[[::1]]:80"],
  ["stray '['", "a[b:80"],
  ["stray ']'", "a]b:80"],
  ["bracket in the middle", "[a:b]c:80"],
  ["port out of range", "127.0.0.1:65536"],
  ["port out of range", ":99999"],
  ["port out of range", "127.0.0.1:99999999999999999999999"],
  ["negative port", ":-1"],
  ["signed port", ":+80"],
  ["non-numeric port", ":abc"],
  ["non-numeric port", ":80a"],
  ["service name (not looked up)", ":http"],
  ["space in port", ": 80"],
  ["space in port", ":80 "],
  ["hex port", ":0x50"],
  ["exponent port", ":1e3"],
  ["fractional port", ":8.0"],
  ["non-ASCII digit", ":\u0663"],
  ["object: NaN port", { port: NaN }],
  ["object: fractional port", { port: 1.5 }],
  ["object: negative port", { port: -1 }],
  ["object: port out of range", { port: 65536 }],
  ["object: infinite port", { port: Infinity }],
  ["object: string port", { port: "80" }],
  ["object: no port", { hostname: "127.0.0.1" }],
  ["object: empty", {}],
  ["object: hostname not a string", { hostname: 5, port: 80 }],
  ["whitespace in host", "exa mple.com:80"],
  ["control character in host", "a\x00b:80"],
  ["one colon in brackets", "[1:2]:80"],
  ["object: host:port as hostname", { hostname: "127.0.0.1:80", port: 1 }],
  ["object: unclosed bracket", { hostname: "[::1", port: 1 }],
  ["object: stray bracket", { hostname: "a]b", port: 1 }],
  ["object: whitespace in hostname", { hostname: " 127.0.0.1", port: 1 }],
  ["not an address", undefined],
  ["not an address", null],
  ["not an address", 80],
  ["not an address", true],
];

// Port 0 picks a free port when listening; nobody can be dialed there.
const ZERO_PORT: Address[] = ["127.0.0.1:0", ":0", "127.0.0.1:", "[::1]:0", { port: 0 }];

function describe(address: unknown): string {
  return typeof address === "string" ? `"${address}"` : JSON.stringify(address) ?? "undefined";
}

function assertInvalid(e: unknown, op: "dial" | "listen", address: unknown): void {
  assert.ok(e instanceof NetError, `${describe(address)}: want NetError, got ${String(e)}`);
  assert.equal(e.kind, "invalid-address", `${describe(address)}: kind`);
  assert.equal(e.op, op);
  assert.equal(e.timeout, false);
  if (typeof address === "string" && address !== "") {
    const quoted = JSON.stringify(address).slice(1, -1); // control characters escaped
    assert.ok(e.message.includes(quoted), `the message names the address: ${e.message}`);
  }
}

Deno.test("address: Go's syntax parses to hostname and port", () => {
  for (const [address, hostname, port] of GOOD) {
    for (const op of ["dial", "listen"] as const) {
      assert.deepEqual(parseAddress(address, op), { hostname, port }, describe(address));
    }
  }
});

Deno.test("address: bad addresses are NetErrors of kind invalid-address", () => {
  for (const [why, address] of BAD) {
    for (const op of ["dial", "listen"] as const) {
      assert.throws(
        () => parseAddress(address as Address, op),
        (e) => (assertInvalid(e, op, address), true),
        `${why}: ${describe(address)}`,
      );
    }
  }
});

Deno.test("address: dial rejects bad addresses and port 0 at once, before any I/O", async () => {
  for (const address of [...BAD.map(([, a]) => a), ...ZERO_PORT]) {
    const err = await mustReject(dial(address as Address), Error, 1000, describe(address));
    assertInvalid(err, "dial", address);
  }
});

Deno.test("address: listen throws on bad addresses", () => {
  for (const [why, address] of BAD) {
    assert.throws(
      () => listen(address as Address).close(),
      (e) => (assertInvalid(e, "listen", address), true),
      `${why}: ${describe(address)}`,
    );
  }
});

Deno.test("address: listen on port 0 picks a free port", async () => {
  for (const address of ["127.0.0.1:0", "127.0.0.1:", { hostname: "127.0.0.1", port: 0 }]) {
    await using ln = listen(address);
    assert.ok(ln.addr.port > 0 && ln.addr.port <= 65535, `${describe(address)}: ${ln.addr.port}`);
    assert.equal(ln.addr.hostname, "127.0.0.1");
    assert.equal(ln.addr.transport, "tcp");
  }
});

Deno.test({
  name: "address: IPv6 loopback, [::1], to dial and listen",
  ignore: !IPV6,
  async fn() {
    await using ln = listen("[::1]:0");
    assert.equal(ln.addr.hostname, "::1");
    const port = ln.addr.port;
    await using conn = await mustSettle(dial(`[::1]:${port}`), 5000, "dial [::1]");
    await using peer = await mustSettle(ln.accept(), 5000, "accept");
    for (const c of [conn, peer]) {
      assert.equal(c.localAddr.hostname, "::1");
      assert.equal(c.remoteAddr.hostname, "::1");
    }
    assert.equal(conn.remoteAddr.port, port);
    assert.equal(peer.remoteAddr.port, conn.localAddr.port);
  },
});

Deno.test('address: ":0" listens on every interface; IPv4 peers show as IPv4', async () => {
  await using ln = listen(":0");
  assert.ok(["::", "0.0.0.0"].includes(ln.addr.hostname), ln.addr.hostname);
  const hosts = IPV6 ? ["127.0.0.1", "::1"] : ["127.0.0.1"];
  for (const host of hosts) {
    await using conn = await mustSettle(dial({ hostname: host, port: ln.addr.port }), 5000, host);
    await using peer = await mustSettle(ln.accept(), 5000, "accept");
    // A dual-stack socket sees "::ffff:127.0.0.1"; Go, and netconn, show "127.0.0.1".
    assert.equal(peer.remoteAddr.hostname, host);
    assert.equal(peer.localAddr.hostname, host);
    assert.equal(peer.remoteAddr.port, conn.localAddr.port);
    assert.equal(conn.remoteAddr.hostname, host);
  }
});

Deno.test("address: IPv4-mapped IPv6 addresses are shown as IPv4, nothing else changes", () => {
  const cases: [string, string][] = [
    ["::ffff:127.0.0.1", "127.0.0.1"],
    ["::FFFF:10.1.2.3", "10.1.2.3"],
    ["::1", "::1"],
    ["127.0.0.1", "127.0.0.1"],
    ["::ffff:1.2.3", "::ffff:1.2.3"],
    ["::ffff:7f00:1", "::ffff:7f00:1"],
    ["fe80::ffff:1.2.3.4", "fe80::ffff:1.2.3.4"],
  ];
  for (const [hostname, want] of cases) {
    const addr = normalizeAddr({ transport: "tcp", hostname, port: 7 });
    assert.deepEqual({ ...addr }, { transport: "tcp", hostname: want, port: 7 }, hostname);
  }
});

Deno.test("address: addresses print as Go prints them and inspect readably", async () => {
  await using ln = listen("127.0.0.1:0");
  await using conn = await dial(ln.addr);
  await using peer = await ln.accept();
  const port = ln.addr.port;
  assert.equal(String(ln.addr), `127.0.0.1:${port}`);
  assert.equal(`${conn.remoteAddr}`, `127.0.0.1:${port}`);
  assert.equal(String(peer.remoteAddr), `127.0.0.1:${conn.localAddr.port}`);
  assert.equal(Deno.inspect(ln.addr), `tcp 127.0.0.1:${port}`);
  assert.equal(String(normalizeAddr({ transport: "tcp", hostname: "::1", port: 80 })), "[::1]:80");
  // Still Deno.NetAddr-shaped, and accepted back by dial.
  assert.deepEqual(JSON.parse(JSON.stringify(conn.remoteAddr)), {
    transport: "tcp",
    hostname: "127.0.0.1",
    port,
  });
  await using again = await dial(conn.remoteAddr);
  await using _peer2 = await ln.accept();
  assert.equal(again.remoteAddr.port, port);
});

Deno.test("address: joinHostPort brackets IPv6 and round-trips through parsing", () => {
  const cases: [string, number, string][] = [
    ["127.0.0.1", 80, "127.0.0.1:80"],
    ["::1", 80, "[::1]:80"],
    ["fe80::1%lo", 8, "[fe80::1%lo]:8"],
    ["", 8001, ":8001"],
    ["localhost", 0, "localhost:0"],
  ];
  for (const [hostname, port, want] of cases) {
    assert.equal(joinHostPort(hostname, port), want);
    assert.equal(formatAddr({ transport: "tcp", hostname, port }), want);
    assert.deepEqual(parseAddress(want, "listen"), { hostname, port });
  }
});
