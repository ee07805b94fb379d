/**
 * The probe's output: the table for a terminal (fitted to its width, cells
 * wrapped), the Markdown table for docs/measured/probe.md, and the counts under them.
 * Internal to the probe.
 *
 * @module
 */

import { markdownTable } from "../_kit/table.ts";
import type { ProbeTable } from "./_lab.ts";

/**
 * How a row compares with Go: "as Go" only when Go was measured here and
 * every compared figure agrees, error kinds included; "decision" when it
 * differs by a decision written in the docs; "documented" when it was
 * compared with what Go documents only; "differs" otherwise; "skipped" when
 * it did not run.
 */
export type Verdict = "as Go" | "decision" | "documented" | "differs" | "skipped";

/** What the formatters read of a row (the probe's `Row` has more). */
export interface TableRow {
  /** The case. */
  case: string;
  /** Go's measured figures, or what Go documents. */
  go: string;
  /** True when `go` was measured here. */
  goMeasured: boolean;
  /** What netconn did here. */
  netconn: string;
  /** What a raw `Deno.Conn` did, when measured; else "". */
  raw: string;
  /** How the row compares with Go. */
  verdict: Verdict;
  /** Why the verdict: the figures compared, the decision, why Go was not measured, or the skip. */
  why: string;
  /** Tables of the row's own (the sweep's grid). */
  tables?: ProbeTable[];
}

/** What the Go column measured, for the line above the table. */
export interface GoCaption {
  /** `go version`'s output, or undefined when Go was not measured. */
  version?: string;
  /** Why Go was not measured, and how to get the measured form. */
  missing?: { reason: string; remedy: string };
}

const NOT_MEASURED = "[not measured]";

/** What the verdict column's words mean. */
const LEGEND = '"as Go?": yes = Go measured here, every compared figure the same, error kinds ' +
  "included; decision = differs by a decision in docs/probe.md; documented = compared with " +
  "what Go documents only; NO = differs.";

/** The verdict as its table cell. */
function verdictCell(v: Verdict): string {
  return v === "as Go" ? "yes" : v === "differs" ? "NO" : v;
}

/** The Go cell: the measured figures, or the documented behaviour marked as not measured. */
function goCell(row: TableRow): string {
  return row.goMeasured ? row.go : `${row.go} ${NOT_MEASURED}`;
}

/** The line above the table: which Go the Go column measured, or why none. */
export function caption(go: GoCaption): string {
  if (go.version !== undefined) {
    return `Go column: measured on this machine with ${go.version}, beside netconn; a cell ` +
      `marked ${NOT_MEASURED} says what Go documents. ${LEGEND}`;
  }
  if (go.missing === undefined) return `Go column: what Go documents, not measured. ${LEGEND}`;
  const { reason, remedy } = go.missing;
  return `Go column: what Go documents, not measured (${reason}); to measure it, ${remedy}. ` +
    LEGEND;
}

/**
 * `text` wrapped at spaces into lines of at most `width` characters; a word
 * longer than that is cut.
 */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (let word of text.split(/\s+/).filter((w) => w !== "")) {
    while (word.length > width) {
      if (line !== "") lines.push(line);
      lines.push(word.slice(0, width));
      word = word.slice(width);
      line = "";
    }
    if (line === "") line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line !== "" || lines.length === 0) lines.push(line);
  return lines;
}

/**
 * Every line of `text` wrapped to `width`; a line starting with "- " goes on
 * indented under its text.
 */
export function wrapLines(text: string, width: number): string {
  return text.split("\n").flatMap((line) => {
    if (line === "") return [""];
    const bullet = line.startsWith("- ");
    const lines = wrap(bullet ? line.slice(2) : line, bullet ? width - 2 : width);
    return bullet ? lines.map((l, i) => (i === 0 ? "- " : "  ") + l) : lines;
  }).join("\n");
}

/**
 * Column widths that fit `width` in all: each column as wide as its longest
 * cell when that fits; else the columns no wider than an equal share of what
 * is left keep their width, and the others share the rest equally.
 */
export function fitColumns(longest: number[], width: number): number[] {
  const frame = 3 * longest.length + 1; // "| " + " | " between + " |"
  const room = Math.max(width - frame, 8 * longest.length);
  if (longest.reduce((a, b) => a + b, 0) <= room) return [...longest];
  const fixed = new Set<number>();
  let left = room;
  for (let changed = true; changed;) {
    changed = false;
    const share = left / (longest.length - fixed.size);
    for (const [c, w] of longest.entries()) {
      if (!fixed.has(c) && w <= share) {
        fixed.add(c);
        left -= w;
        changed = true;
      }
    }
  }
  const free = longest.map((_, c) => c).filter((c) => !fixed.has(c));
  const share = Math.floor(left / free.length);
  return longest.map((w, c) =>
    fixed.has(c) ? w : c === free.at(-1) ? left - share * (free.length - 1) : share
  );
}

/**
 * The rows as a table at most `width` columns wide (the Go and netconn cells
 * wrap), a rule between rows.
 *
 * @param rows The rows.
 * @param width The terminal's width; at most 100 when output is piped.
 */
export function formatTerminal(rows: TableRow[], width: number): string {
  const head = ["case", "Go", "netconn", "as Go?"];
  const body = rows.map((r) => [r.case, goCell(r), r.netconn, verdictCell(r.verdict)]);
  return textTable(head, body, width, { narrowFirst: true, rules: true });
}

/**
 * A table at most `width` columns wide, its cells wrapped to fit.
 *
 * @param head The column headers.
 * @param body The cells, a row at a time.
 * @param width The width to fit.
 * @param options `narrowFirst` keeps the first column to a fifth of the
 *   width; `rules` draws a rule between rows.
 */
export function textTable(
  head: string[],
  body: string[][],
  width: number,
  options: { narrowFirst?: boolean; rules?: boolean } = {},
): string {
  const longest = head.map((h, c) => Math.max(h.length, ...body.map((cells) => cells[c]!.length)));
  if (options.narrowFirst) longest[0] = Math.min(longest[0]!, Math.max(12, Math.floor(width / 5)));
  const widths = fitColumns(longest, width);
  const rule = `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`;
  const render = (cells: string[]): string[] => {
    const wrapped = cells.map((cell, c) => wrap(cell, widths[c]!));
    const height = Math.max(...wrapped.map((w) => w.length));
    return Array.from(
      { length: height },
      (_, i) => `| ${wrapped.map((w, c) => (w[i] ?? "").padEnd(widths[c]!)).join(" | ")} |`,
    );
  };
  const lines = [...render(head), rule];
  for (const [i, cells] of body.entries()) {
    if (i > 0 && options.rules) lines.push(rule);
    lines.push(...render(cells));
  }
  return lines.join("\n");
}

/**
 * The rows as one Markdown table with the full text (for the README), with a
 * raw Deno column when some row measured raw Deno.
 */
export function formatMarkdown(rows: TableRow[]): string {
  const withRaw = rows.some((r) => r.raw !== "");
  const head = ["case", "Go", "netconn", ...(withRaw ? ["raw Deno"] : []), "as Go?"];
  const body = rows.map((r) => [
    r.case,
    goCell(r),
    r.netconn,
    ...(withRaw ? [r.raw] : []),
    verdictCell(r.verdict),
  ]);
  return markdownTable(head, body);
}

/**
 * The tables the rows carry (the sweep's grid), each under its title: in
 * Markdown, or fitted to `width` when it is given.
 */
export function formatRowTables(rows: TableRow[], width?: number): string {
  return rows.flatMap((r) => r.tables ?? []).map((t) => {
    const title = width === undefined ? t.title : wrap(t.title, width).join("\n");
    const table = width === undefined
      ? markdownTable(t.head, t.rows)
      : textTable(t.head, t.rows, width);
    const note = t.note === undefined
      ? ""
      : `\n\n${width === undefined ? t.note : wrap(t.note, width).join("\n")}`;
    return `${title}\n\n${table}${note}`;
  }).join("\n\n");
}

/** The counts of a run: measured + documented + skipped = rows. */
export interface Counts {
  /** Rows in all. */
  rows: number;
  /** Rows run with Go measured beside them on this machine. */
  measured: number;
  /** Of those, the rows whose figures agree with Go's, error kinds included. */
  asGo: number;
  /** Rows run against what Go documents only (Go not measured, or not all of it). */
  documented: number;
  /** Rows that differ from Go by a decision written in the docs (measured or not). */
  decisions: number;
  /** Rows that differ from Go without a decision: these fail the probe. */
  differ: number;
  /** Rows not run, for want of a permission or of Go. */
  skipped: number;
}

/**
 * True when the row was judged against Go's measured figures; a row Go could
 * measure only in part is "documented", and counts as such.
 */
function isMeasured(row: TableRow): boolean {
  return row.goMeasured && row.verdict !== "documented";
}

/** Counts the rows by verdict and by whether Go was measured. */
export function count(rows: TableRow[]): Counts {
  const by = (v: Verdict): number => rows.filter((r) => r.verdict === v).length;
  const ran = rows.filter((r) => r.verdict !== "skipped");
  return {
    rows: rows.length,
    measured: ran.filter(isMeasured).length,
    asGo: by("as Go"),
    documented: ran.filter((r) => !isMeasured(r)).length,
    decisions: by("decision"),
    differ: by("differs"),
    skipped: by("skipped"),
  };
}

/**
 * The counts in one line, e.g. "40 rows: 38 measured beside Go (33 as Go, 5
 * by decision), 2 against Go's documentation, 0 skipped."
 */
export function countsLine(rows: TableRow[]): string {
  const c = count(rows);
  const of = (measured: boolean, v: Verdict): number =>
    rows.filter((r) => isMeasured(r) === measured && r.verdict === v).length;
  const detail = (parts: [number, string][]): string => {
    const shown = parts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`);
    return shown.length === 0 ? "" : ` (${shown.join(", ")})`;
  };
  const measured = detail([
    [c.asGo, "as Go"],
    [of(true, "decision"), "by decision"],
    [of(true, "differs"), "differ"],
  ]);
  const documented = detail([
    [of(false, "decision"), "by decision"],
    [of(false, "differs"), "differ"],
  ]);
  return `${c.rows} rows: ${c.measured} measured beside Go${measured}, ${c.documented} against ` +
    `Go's documentation${documented}, ${c.skipped} skipped.`;
}

/**
 * Each row that is not "as Go", grouped, with why (differences, decisions,
 * rows compared with Go's documentation only, what the skipped rows need),
 * then the counts as the last line; `bullet` starts each listed line.
 */
export function summary(rows: TableRow[], bullet = "- "): string {
  const lines: string[] = [];
  const group = (title: string, picked: TableRow[]): void => {
    if (picked.length === 0) return;
    lines.push(title);
    for (const r of picked) lines.push(`${bullet}${r.case}: ${r.why}`);
    lines.push("");
  };
  group(
    "Differ from Go, not as Go's contract says (these fail the probe):",
    rows.filter((r) => r.verdict === "differs"),
  );
  group(
    "Differ from Go by a decision (docs/probe.md):",
    rows.filter((r) => r.verdict === "decision"),
  );
  group(
    "Compared with Go's documentation only:",
    rows.filter((r) => r.verdict === "documented"),
  );
  const skipped = rows.filter((r) => r.verdict === "skipped");
  if (skipped.length > 0) {
    lines.push("Skipped:");
    const byNeed = new Map<string, string[]>();
    for (const r of skipped) byNeed.set(r.why, [...(byNeed.get(r.why) ?? []), r.case]);
    for (const [why, cases] of byNeed) lines.push(`${bullet}${why}: ${cases.join("; ")}`);
    lines.push("");
  }
  lines.push(countsLine(rows));
  return lines.join("\n");
}
