// A user's project, as the README sets it up (a checkout mapped by an import
// map, Deno's default compiler options): every entry point must type-check
// there too, not only under netconn's own stricter deno.json.

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

Deno.test({
  name: "a project with the README's deno.json type-checks every entry point",
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const at = (path: string): string => new URL(path, ROOT).href;
      await Deno.writeTextFile(
        `${dir}/deno.json`,
        JSON.stringify({
          imports: {
            "@netconn/netconn": at("mod.ts"),
            "@netconn/netconn/bufio": at("bufio/mod.ts"),
            "@netconn/netconn/sockopt": at("sockopt/mod.ts"),
            "@netconn/netconn/testing": at("testing/mod.ts"),
          },
        }),
      );
      await Deno.writeTextFile(
        `${dir}/main.ts`,
        [
          'import * as netconn from "@netconn/netconn";',
          'import * as bufio from "@netconn/netconn/bufio";',
          'import * as sockopt from "@netconn/netconn/sockopt";',
          'import * as testing from "@netconn/netconn/testing";',
          "console.log(netconn, bufio, sockopt, testing);",
        ].join("\n"),
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["check", "--quiet", "--config", `${dir}/deno.json`, `${dir}/main.ts`],
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, `deno check failed in a user's project:\n${text.slice(0, 3000)}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
