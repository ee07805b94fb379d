/**
 * Markdown tables for what the probe and the bench print and write into
 * docs/measured/. Private to the repository.
 *
 * @module
 */

/** A cell for Markdown: no pipes or newlines. */
function md(cell: string): string {
  return cell.replaceAll("|", "\\|").replaceAll("\n", " ");
}

/**
 * A Markdown table, its columns padded to line up in a terminal too.
 *
 * @param head The column headers.
 * @param body The cells, a row at a time, as many as `head` has.
 * @param align A column's alignment, `"right"` for figures. @default {all "left"}
 */
export function markdownTable(
  head: string[],
  body: string[][],
  align: ("left" | "right")[] = [],
): string {
  const cells = body.map((row) => row.map(md));
  const widths = head.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c]!.length)));
  const right = (c: number): boolean => align[c] === "right";
  const line = (row: string[]): string =>
    `| ${
      row.map((cell, c) => right(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)).join(
        " | ",
      )
    } |`;
  const rule = `|${
    widths.map((w, c) => right(c) ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2)).join("|")
  }|`;
  return [line(head.map(md)), rule, ...cells.map(line)].join("\n");
}
