/** Plain-text tables for the terminal: columns padded to their widest cell. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  return cells.map((r) => r.map((cell, c) => (cell ?? '').padEnd(widths[c] ?? 0)).join('  ').trimEnd()).join('\n');
}
