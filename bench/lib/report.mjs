/**
 * The benchmark's output: rows of figures, each beside its baseline and the
 * ratio, printed as a Markdown table (readable in a terminal, pasteable into
 * the README) and kept as JSON.
 */

/**
 * @typedef {object} Row
 * @property {string} section
 * @property {string} measure
 * @property {number | string | null} value    distlab's figure (a string for "not available" and the like)
 * @property {string} [unit]
 * @property {number | null} [baseline]        the baseline's figure, measured in the same run
 * @property {string} [baselineNote]           what the baseline is, when it is not the bare node:http server
 * @property {'higher' | 'lower'} [better]     which way is better, for the ratio's target
 * @property {{ op: '>=' | '<', value: number, of: 'ratio' | 'value' }} [target]
 * @property {string} [note]
 */

export function ratio(row) {
  if (typeof row.value !== 'number' || typeof row.baseline !== 'number' || row.baseline === 0) return null;
  return row.value / row.baseline;
}

/** 'met', 'missed', or '' when the row has no target. */
export function targetStatus(row) {
  if (!row.target) return '';
  const x = row.target.of === 'ratio' ? ratio(row) : row.value;
  if (typeof x !== 'number') return '';
  const met = row.target.op === '>=' ? x >= row.target.value : x < row.target.value;
  return met ? 'met' : 'missed';
}

function formatNumber(value, unit) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string') return value;
  const digits = Math.abs(value) >= 1000 || unit === 'req/s' ? 0 : Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  const text = value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  return unit ? `${text} ${unit}` : text;
}

function formatTarget(row) {
  if (!row.target) return '';
  const { op, value, of } = row.target;
  const text = of === 'ratio' ? `${op} ${value}x ${row.baselineNote?.startsWith('reference') ? 'reference' : 'baseline'}` : `${op} ${formatNumber(value, row.unit)}`;
  const status = targetStatus(row);
  return status ? `${text}: ${status}` : text;
}

/** The rows as a Markdown table. */
export function renderTable(rows) {
  const header = ['section', 'measure', 'distlab', 'baseline', 'ratio', 'target'];
  const lines = rows.map((row) => {
    const r = ratio(row);
    const baseline = row.baseline === undefined ? '' : `${formatNumber(row.baseline, row.unit)}${row.baselineNote ? ` (${row.baselineNote})` : ''}`;
    const measure = row.note ? `${row.measure} — ${row.note}` : row.measure;
    return [row.section, measure, formatNumber(row.value, row.unit), baseline, r === null ? '' : `${r.toFixed(2)}x`, formatTarget(row)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [fmt(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(fmt)].join('\n');
}
