/**
 * `distlab check linearizability HISTORY` and `distlab check lost-writes HISTORY`:
 * read a recorded history and give a verdict. Exit codes follow Jepsen's
 * Maelstrom: 0 the history passes, 1 it does not, 2 the checker cannot tell
 * or the input is malformed (one line naming the line of the input).
 */
import { type Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { describeEvent, type HistoryFormat, HistoryParseError, operationJson, type PairedHistory, pairOperations, parseHistory } from '../../check/history.js';
import { checkLinearizability, DEFAULT_MAX_STATES, DEFAULT_TIMEOUT_MS, formatViolation, type LinearizabilityResult } from '../../check/linearizability.js';
import { checkLostWrites, type LostWritesResult } from '../../check/lost-writes.js';
import { describeOperation, type ModelName } from '../../check/models.js';
import { OperationFailed, UsageError } from '../errors.js';
import { intOption, parseDuration } from '../options.js';

interface CommonOptions {
  model: ModelName | 'auto';
  format: HistoryFormat | 'auto';
  json?: boolean;
}

const modelOption = () => new Option('--model <model>', 'sequential model of the object').choices(['auto', 'register', 'kv']).default('auto');
const formatOption = () =>
  new Option('--format <format>', 'history format: distlab JSON lines, Jepsen etcd log, or Jepsen EDN maps').choices(['auto', 'jsonl', 'jepsen', 'edn']).default('auto');

/** Read and pair a history; any problem with the input is bad usage (exit 2) naming the line. */
function loadHistory(file: string, format: HistoryFormat | 'auto'): { format: HistoryFormat; paired: PairedHistory } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return asUsage(file, () => {
    const parsed = parseHistory(text, format);
    return { format: parsed.format, paired: pairOperations(parsed.events) };
  });
}

function asUsage<T>(file: string, run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof HistoryParseError) throw new UsageError(`${file}: malformed history: ${err.message}`);
    throw err;
  }
}

export function register(program: Command): void {
  const check = program.command('check').description('turn a recorded history into a verdict (exit 0 pass, 1 fail, 2 cannot tell / malformed)');

  check
    .command('linearizability')
    .description('is the register / key-value history linearizable? (checked key by key)')
    .argument('<history>', 'history file: distlab JSON lines, Jepsen etcd log or Jepsen EDN')
    .addOption(modelOption())
    .addOption(formatOption())
    .addOption(new Option('--timeout <duration>', 'answer "unknown" after this long').argParser(parseDuration).default(DEFAULT_TIMEOUT_MS, `${DEFAULT_TIMEOUT_MS / 1000}s`))
    .addOption(new Option('--max-states <n>', 'answer "unknown" after exploring this many states').argParser(intOption(1)).default(DEFAULT_MAX_STATES))
    .option('--json', 'print the result as JSON')
    .action((file: string, opts: CommonOptions & { timeout: number; maxStates: number }) => {
      const { format, paired } = loadHistory(file, opts.format);
      const checked = asUsage(file, () => checkLinearizability(paired, { model: opts.model, timeoutMs: opts.timeout, maxStates: opts.maxStates }));
      // An empty history is trivially linearizable, but a verdict about nothing is no verdict.
      const result: LinearizabilityResult =
        checked.valid === true && checked.operations === 0
          ? { ...checked, valid: 'unknown', reason: 'nothing to check (no operation is left once failed ones and unknown outcomes nobody observed are left out)' }
          : checked;
      if (opts.json) process.stdout.write(JSON.stringify(linearizabilityJson(file, format, paired, result), null, 2) + '\n');
      else process.stdout.write(linearizabilityText(paired, result) + '\n');
      if (result.valid === false) throw new OperationFailed(`${file}: not linearizable`);
      if (result.valid === 'unknown') throw new UsageError(`${file}: cannot tell: ${result.reason}`);
    });

  check
    .command('lost-writes')
    .description('find acknowledged writes that a later read cannot see')
    .argument('<history>', 'history file: distlab JSON lines, Jepsen etcd log or Jepsen EDN')
    .addOption(modelOption())
    .addOption(formatOption())
    .option('--json', 'print the result as JSON')
    .action((file: string, opts: CommonOptions) => {
      const { format, paired } = loadHistory(file, opts.format);
      const result = asUsage(file, () => checkLostWrites(paired, { model: opts.model }));
      if (opts.json) process.stdout.write(JSON.stringify(lostWritesJson(file, format, result), null, 2) + '\n');
      else process.stdout.write(lostWritesText(result) + '\n');
      if (result.valid === false) throw new OperationFailed(`${file}: ${result.lost.length} acknowledged write(s) lost`);
      if (result.valid === 'unknown') throw new UsageError(`${file}: cannot tell: no acknowledged write is followed by a read of its key`);
    });
}

function linearizabilityText(paired: PairedHistory, r: LinearizabilityResult): string {
  const counts = `${r.operations} operations (${paired.failed} failed ones left out), ${r.partitions} key(s), model ${r.model}, ${r.statesExplored} states explored in ${r.elapsedMs} ms`;
  if (r.valid === true) return `linearizable: ${counts}`;
  if (r.valid === 'unknown') return `unknown: ${r.reason}; ${counts}`;
  return `${formatViolation(r.model, r.violation!)}\n${counts}`;
}

function linearizabilityJson(file: string, format: HistoryFormat, paired: PairedHistory, r: LinearizabilityResult) {
  const v = r.violation;
  return {
    checker: 'linearizability',
    file,
    format,
    model: r.model,
    valid: r.valid,
    operations: r.operations,
    failedDropped: paired.failed,
    partitions: r.partitions,
    statesExplored: r.statesExplored,
    elapsedMs: r.elapsedMs,
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
    ...(v
      ? {
          violation: {
            key: v.key ?? null,
            prefixLength: v.prefix.length,
            prefixTail: v.prefix.slice(-4).map(operationJson),
            state: v.state,
            blocking: operationJson(v.blocking),
            stuck: v.stuck.map((s) => ({ operation: operationJson(s.operation), why: s.why })),
            window: v.window.map((e) => ({ line: e.line, text: describeEvent(e) })),
          },
        }
      : {}),
  };
}

function lostWritesText(r: LostWritesResult): string {
  const counts = `${r.acknowledgedWrites} acknowledged write(s), ${r.checkedWrites} followed by a read of their key, model ${r.model}, ${r.elapsedMs} ms`;
  if (r.valid === true) return `no lost writes: ${counts}`;
  if (r.valid === 'unknown') return `unknown: ${counts}`;
  const lines = [`${r.lost.length} lost write(s):`];
  for (const l of r.lost) {
    lines.push(`  ${describeOperation(l.write)}`);
    lines.push(`    not seen by ${describeOperation(l.read)}: ${l.why}`);
  }
  lines.push(counts);
  return lines.join('\n');
}

function lostWritesJson(file: string, format: HistoryFormat, r: LostWritesResult) {
  return {
    checker: 'lost-writes',
    file,
    format,
    model: r.model,
    valid: r.valid,
    acknowledgedWrites: r.acknowledgedWrites,
    checkedWrites: r.checkedWrites,
    elapsedMs: r.elapsedMs,
    lost: r.lost.map((l) => ({ write: operationJson(l.write), read: operationJson(l.read), why: l.why })),
  };
}
