/**
 * The node's message log: what `POST /message` received, oldest first.
 *
 * The handouts pass a ring token or a broadcast along with `POST /message`
 * and check each node's log afterwards. The log keeps the newest `limit`
 * messages (a node must not grow without bound) and counts what it dropped.
 * Listeners hear each message as it is appended, so a protocol host can
 * react to the handouts' own clients (e.g. start a ring round).
 */
export interface LoggedMessage {
  /** 1, 2, 3, ... in arrival order on this node. */
  seq: number;
  from: string;
  payload: unknown;
  /** ISO-8601 time of arrival. */
  received_at: string;
}

export type MessageListener = (message: LoggedMessage) => void;

export const DEFAULT_MESSAGE_LOG_LIMIT = 10_000;

export class MessageLog {
  private readonly entries: LoggedMessage[] = [];
  private readonly listeners = new Set<MessageListener>();
  private nextSeq = 1;
  private droppedCount = 0;

  constructor(private readonly limit = DEFAULT_MESSAGE_LOG_LIMIT) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`message log limit must be a positive integer, got ${limit}`);
  }

  append(from: string, payload: unknown, now: Date = new Date()): LoggedMessage {
    const message: LoggedMessage = { seq: this.nextSeq++, from, payload, received_at: now.toISOString() };
    this.entries.push(message);
    if (this.entries.length > this.limit) {
      this.entries.shift();
      this.droppedCount += 1;
    }
    for (const listener of this.listeners) listener(message);
    return message;
  }

  /** Oldest first. */
  list(): readonly LoggedMessage[] {
    return this.entries;
  }

  get size(): number {
    return this.entries.length;
  }

  /** How many old messages were dropped to respect the limit. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Calls `listener` for every message appended from now on; returns an unsubscribe function. */
  subscribe(listener: MessageListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
