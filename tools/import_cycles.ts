/**
 * Fails when the repository's TypeScript modules import each other in a
 * cycle, type-only imports and re-exports included: a lower layer never
 * imports a higher one. Also fails when the published library (what the
 * `exports` of deno.json import) imports the repository's private helpers
 * and programs: `_kit/`, `tests/`, `probe/`, `bench/` or `tools/`. Prints each
 * cycle's files and each such import; exits 1 when there is one.
 *
 * Run: `deno task cycles`.
 *
 * @module
 */

import { dirname, join, relative, resolve } from "node:path";

/** Every `.ts` file below `dir`, except under `.git` and `node_modules`. */
function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (entry.name === ".git" || entry.name === "node_modules") continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory) files.push(...sourceFiles(path));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files;
}

/** Matches the specifier of every static import, re-export and dynamic import. */
const SPECIFIER =
  /(?:^|\n)\s*(?:import|export)\b[^;"']*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

/** The relative modules `file` imports, resolved to absolute paths. */
export function importsOf(file: string, text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(SPECIFIER)) {
    const spec = match[1] ?? match[2]!;
    if (spec.startsWith("./") || spec.startsWith("../")) found.push(resolve(dirname(file), spec));
  }
  return found;
}

/** The strongly connected components of more than one module, or one that imports itself. */
export function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** The folders of the repository the published library must never import. */
const NOT_LIBRARY = ["_kit", "tests", "probe", "bench", "tools"];

/** Every module `entries` import, directly or not, themselves included. */
export function reachable(graph: Map<string, string[]>, entries: string[]): Set<string> {
  const seen = new Set<string>();
  const visit = (v: string): void => {
    if (seen.has(v)) return;
    seen.add(v);
    for (const w of graph.get(v) ?? []) visit(w);
  };
  for (const e of entries) visit(e);
  return seen;
}

if (import.meta.main) {
  const root = resolve(Deno.args[0] ?? ".");
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(root)) {
    graph.set(file, importsOf(file, Deno.readTextFileSync(file)));
  }
  const found = cycles(graph);
  for (const component of found) {
    console.log(`import cycle (${component.length} files):`);
    for (const file of component) console.log(`  ${relative(root, file)}`);
  }
  console.log(`${graph.size} modules, ${found.length} import cycles`);
  const config = JSON.parse(Deno.readTextFileSync(join(root, "deno.json")));
  const entries = Object.values(config.exports ?? {}).map((e) => resolve(root, String(e)));
  const library = reachable(graph, entries);
  const leaks = [...library].filter((f) => NOT_LIBRARY.includes(relative(root, f).split("/")[0]!));
  for (const file of leaks.sort()) console.log(`the library imports ${relative(root, file)}`);
  console.log(`library: ${library.size} modules, ${leaks.length} from ${NOT_LIBRARY.join("/, ")}/`);
  if (found.length > 0 || leaks.length > 0) Deno.exit(1);
}
