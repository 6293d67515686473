/**
 * The replicated store behind `/data`: every request becomes a client
 * operation of the node's kv protocol (src/protocols/kv.ts), which this
 * node coordinates — it asks the key's N replicas and answers once R (read)
 * or W (write) of them did.
 *
 * What the HTTP answer carries besides the handout's fields: `replicas`
 * (the key's preference list), `acks` (replicas that stored a write on disk)
 * or `from` (replicas holding the version read), and `version` (printed
 * `wall.logical@node`).
 *
 * Failures: quorum not met → 503 `{error: 'quorum not met', needed, got,
 * replicas}` plus `indefinite: true` when the write reached some replica and
 * so may yet take effect; no answer in time → 504 `{error: 'timeout',
 * indefinite: true}`; a bad r/w → 400.
 */
import { ErrorCode, isError, type Body } from '../../protocols/envelope.js';
import { DEFAULT_KV_CONFIG } from '../../protocols/kv.js';
import { formatVersion, type Version } from '../../protocols/versions.js';
import { HttpError } from '../http-error.js';
import { protocolError } from '../protocol-http.js';
import type { DataOptions, DataStore, DataValue } from './data-store.js';

/** What the store needs of the node: `LiveHost.request`. */
export interface KvRequester {
  request(body: Body, timeoutMs: number): Promise<Body>;
}

/** The protocol answers every client request within its requestTimeoutMs; the host waits a little longer. */
const HOST_TIMEOUT_MS = DEFAULT_KV_CONFIG.requestTimeoutMs + 500;

export class KvDataStore implements DataStore {
  private host: KvRequester | undefined;

  constructor(private readonly nodeId: string) {}

  /** Connects the store to the node's protocol host (created after the server). */
  attach(host: KvRequester): void {
    this.host = host;
  }

  async put(key: string, value: string, options: DataOptions = {}): Promise<Record<string, unknown>> {
    const reply = await this.ask({ type: 'kv.put', key, value, ...(options.w === undefined ? {} : { w: options.w }) });
    return { acks: reply.acks, replicas: reply.replicas, hinted: reply.hinted, version: printVersion(reply.version), ...(reply.conflicts ? { conflicts: reply.conflicts } : {}) };
  }

  async get(key: string, options: DataOptions = {}): Promise<DataValue | undefined> {
    const reply = await this.ask({ type: 'kv.get', key, ...(options.r === undefined ? {} : { r: options.r }) });
    if (reply === undefined) return undefined;
    return { value: String(reply.value), fields: { from: reply.from, replicas: reply.replicas, version: printVersion(reply.version) } };
  }

  async delete(key: string, options: DataOptions = {}): Promise<Record<string, unknown> | undefined> {
    const reply = await this.ask({ type: 'kv.delete', key, ...(options.w === undefined ? {} : { w: options.w }) });
    return { acks: reply.acks, replicas: reply.replicas, hinted: reply.hinted, version: printVersion(reply.version) };
  }

  /** The ok reply; undefined for "key not found" (reads only); throws the HTTP error for anything else. */
  private async ask(body: Body & { type: 'kv.get' }): Promise<Body | undefined>;
  private async ask(body: Body): Promise<Body>;
  private async ask(body: Body): Promise<Body | undefined> {
    if (!this.host) throw new HttpError(503, 'unavailable', `node ${this.nodeId} is still starting`);
    const reply = await this.host.request(body, HOST_TIMEOUT_MS);
    if (!isError(reply)) return reply;
    if (reply.code === ErrorCode.KeyDoesNotExist && body.type === 'kv.get') return undefined;
    if (reply.error === 'quorum not met') {
      const indefinite = reply.definite === false;
      throw new HttpError(503, 'quorum not met', String(reply.text), {
        needed: reply.needed,
        got: reply.got,
        replicas: reply.replicas,
        ...(indefinite ? { indefinite: true } : {}),
      });
    }
    throw protocolError(reply);
  }
}

function printVersion(v: unknown): string | undefined {
  return v && typeof v === 'object' ? formatVersion(v as Version) : undefined;
}
