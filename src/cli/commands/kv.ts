/**
 * `distlab kv put KEY VALUE | get KEY | del KEY`: the replicated store from
 * the command line, through the resilient client (failover across the
 * roster's nodes, retries of definite failures).
 *
 * Exit 0 on success; 1 when the key is not found or the operation failed
 * (an indefinite failure says it may still have happened); 2 on bad usage,
 * including a request the node refuses as invalid (HTTP 400, 413, ...).
 */
import { Option, type Command } from 'commander';
import { DistlabClient, KvError } from '../../client/client.js';
import { OperationFailed, UsageError } from '../errors.js';
import { durationOption, intOption } from '../options.js';
import { readRosterOption, rosterOption } from '../roster-option.js';

interface KvOptions {
  roster?: string;
  json: boolean;
  r?: number;
  w?: number;
  timeout: number;
}

export function register(program: Command): void {
  const kv = program.command('kv').description('put, get and delete keys of the replicated store (/data) of a cluster');
  const common = (cmd: Command) =>
    cmd
      .addOption(rosterOption())
      .addOption(new Option('--timeout <time>', 'timeout of one HTTP attempt').default(3000, '3s').argParser(durationOption(1)))
      .addOption(new Option('--json', 'print the answer as JSON').default(false));
  common(kv.command('put').description('write KEY=VALUE (waits for W durable acknowledgements)').argument('<key>').argument('<value>'))
    .addOption(new Option('--w <n>', 'write quorum W for this request').argParser(intOption(1, 100)))
    .action(async (key: string, value: string, opts: KvOptions) => {
      await withClient(opts, async (client) => {
        const r = await client.put(key, value);
        print(opts, r, `stored ${key}=${value} on [${r.acks.join(', ')}] of replicas [${r.replicas.join(', ')}] (version ${r.version ?? '?'}, via ${r.node})`);
      });
    });
  common(kv.command('get').description('read KEY (waits for R replies)').argument('<key>'))
    .addOption(new Option('--r <n>', 'read quorum R for this request').argParser(intOption(1, 100)))
    .action(async (key: string, opts: KvOptions) => {
      await withClient(opts, async (client) => {
        const r = await client.get(key);
        if (r.value === null) {
          if (opts.json) print(opts, r, '');
          throw new OperationFailed(`key '${key}' not found`);
        }
        print(opts, r, `${r.value}\n(version ${r.version ?? '?'} from [${r.from.join(', ')}] of replicas [${r.replicas.join(', ')}], via ${r.node})`);
      });
    });
  common(kv.command('del').alias('delete').description('delete KEY (a tombstone, waits for W acknowledgements)').argument('<key>'))
    .addOption(new Option('--w <n>', 'write quorum W for this request').argParser(intOption(1, 100)))
    .action(async (key: string, opts: KvOptions) => {
      await withClient(opts, async (client) => {
        const r = await client.delete(key);
        print(opts, r, `deleted ${key} on [${r.acks.join(', ')}] of replicas [${r.replicas.join(', ')}] (version ${r.version ?? '?'}, via ${r.node})`);
      });
    });
}

/** HTTP answers that reject the request itself (it would be rejected anywhere, on any retry). */
const REJECTED_INPUT = new Set([400, 413, 414, 422]);

async function withClient(opts: KvOptions, fn: (client: DistlabClient) => Promise<void>): Promise<void> {
  const roster = readRosterOption(opts.roster);
  const client = new DistlabClient({
    nodes: roster.map((n) => n.url),
    timeoutMs: opts.timeout,
    ...(opts.r === undefined ? {} : { readQuorum: opts.r }),
    ...(opts.w === undefined ? {} : { writeQuorum: opts.w }),
  });
  try {
    await fn(client);
  } catch (err) {
    if (!(err instanceof KvError)) throw err;
    if (opts.json) process.stdout.write(`${JSON.stringify({ error: err.reason, kind: err.kind, status: err.status, body: err.body })}\n`);
    // The node refused what was sent (an empty key, a quorum larger than N, a value over the body limit): bad input.
    if (err.kind === 'definite' && err.status !== undefined && REJECTED_INPUT.has(err.status)) throw new UsageError(`the node refused the request: ${err.message}`);
    const may = err.kind === 'indefinite' ? ' — it may still have taken effect' : '';
    throw new OperationFailed(`${err.message} (${err.kind}${may})`);
  } finally {
    await client.close();
  }
}

function print(opts: KvOptions, result: object, text: string): void {
  process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `${text}\n`);
}
