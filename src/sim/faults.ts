/**
 * Fault schedules: partitions that come and go, and nodes that crash and
 * restart, laid onto a world's agenda for the fault phase of a run. At the
 * end of the fault phase everything heals (partitions removed, crashed nodes
 * restarted) and the liveness phase begins.
 *
 * Partition specs (one `--partition` flag each; see docs/sim.md):
 *
 *   random:PERIOD          a new random split into two halves every PERIOD
 *   isolate:PERIOD         every PERIOD, a new random node cut off from all others
 *   A/B[/C...]             two-way: the groups cannot reach one another
 *   A>B                    one-way: messages from A to B are dropped, B to A pass
 *   ...@START-END          only during that window (else the whole fault phase)
 *   ...@START              from START to the end of the fault phase
 *
 * A group is a comma-separated list of node ids and integer ranges
 * (`1,2,7-9`). Nodes named in no group are not partitioned. Durations are
 * `500ms`, `10s`, `2m` or a bare number of seconds.
 */
import type { NodeId } from '../protocols/envelope.js';
import { SimConfigError } from './network.js';
import { Rng } from './rng.js';
import type { World } from './world.js';

export type PartitionSpec =
  | { kind: 'random' | 'isolate'; periodMs: number; startMs: number; endMs?: number; text: string }
  | { kind: 'groups'; groups: NodeId[][]; oneWay: boolean; startMs: number; endMs?: number; text: string };

/** `500ms`, `10s`, `2m`, `1h` or a bare number of seconds → milliseconds. */
export function parseSimDuration(raw: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  if (!m) throw new SimConfigError(`expected a duration like 500ms, 10s or 2m, got '${raw}'`);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(Number(m[1]) * factor);
}

function parseGroup(raw: string, spec: string): NodeId[] {
  const ids: NodeId[] = [];
  for (const part of raw.split(',')) {
    const item = part.trim();
    const range = /^(\d+)-(\d+)$/.exec(item);
    if (range) {
      const lo = Number(range[1]);
      const hi = Number(range[2]);
      if (hi < lo) throw new SimConfigError(`partition '${spec}': range ${item} runs backwards`);
      for (let i = lo; i <= hi; i++) ids.push(String(i));
    } else if (/^[\w.:-]+$/.test(item)) {
      ids.push(item);
    } else {
      throw new SimConfigError(`partition '${spec}': '${item}' is not a node id or range`);
    }
  }
  return ids;
}

export function parsePartition(raw: string): PartitionSpec {
  const text = raw.trim();
  const [what = '', window, ...rest] = text.split('@');
  if (rest.length > 0) throw new SimConfigError(`partition '${raw}': more than one '@'`);
  let startMs = 0;
  let endMs: number | undefined;
  if (window !== undefined) {
    const m = /^([^-]+)(?:-(.+))?$/.exec(window);
    if (!m) throw new SimConfigError(`partition '${raw}': expected @START or @START-END after the groups`);
    startMs = parseSimDuration(m[1] as string);
    if (m[2] !== undefined) {
      endMs = parseSimDuration(m[2]);
      if (endMs <= startMs) throw new SimConfigError(`partition '${raw}': the window ends before it starts`);
    }
  }
  const random = /^(random|isolate):(.+)$/.exec(what);
  if (random) {
    const periodMs = parseSimDuration(random[2] as string);
    if (periodMs <= 0) throw new SimConfigError(`partition '${raw}': the period must be positive`);
    return { kind: random[1] as 'random' | 'isolate', periodMs, startMs, endMs, text };
  }
  const oneWay = what.includes('>');
  const sides = what.split(oneWay ? '>' : '/');
  if (sides.length < 2 || sides.some((s) => s.trim() === '') || (oneWay && (sides.length !== 2 || what.includes('/')))) {
    throw new SimConfigError(`partition '${raw}': expected random:PERIOD, isolate:PERIOD, A/B[/C...] or A>B, with groups like 1,2,5-7`);
  }
  const groups = sides.map((s) => parseGroup(s, raw));
  const seen = new Set<NodeId>();
  for (const id of groups.flat()) {
    if (seen.has(id)) throw new SimConfigError(`partition '${raw}': node ${id} is in two groups`);
    seen.add(id);
  }
  return { kind: 'groups', groups, oneWay, startMs, endMs, text };
}

/**
 * Lays the partition specs onto the world's agenda, clipped to the fault
 * phase [0, faultEndMs). Random halves and isolated nodes come from the
 * run's `partitions` stream, so they replay with the seed.
 */
export function schedulePartitions(world: World, specs: readonly PartitionSpec[], faultEndMs: number): void {
  const rng = Rng.stream(world.seed, 'partitions');
  for (const spec of specs) {
    const start = spec.startMs;
    const end = Math.min(spec.endMs ?? faultEndMs, faultEndMs);
    if (start >= end) continue;
    if (spec.kind === 'groups') {
      for (const id of spec.groups.flat()) {
        if (!world.members.includes(id)) throw new SimConfigError(`partition '${spec.text}': no node '${id}' (nodes are ${describeIds(world.members)})`);
      }
      let handles: number[] = [];
      world.at(start, () => {
        handles = spec.oneWay ? [world.network.block({ from: spec.groups[0] as NodeId[], to: spec.groups[1] as NodeId[] })] : world.network.split(spec.groups);
      });
      world.at(end, () => handles.forEach((h) => world.network.heal(h)));
    } else {
      let handles: number[] = [];
      for (let t = start; t < end; t += spec.periodMs) {
        world.at(t, () => {
          handles.forEach((h) => world.network.heal(h));
          if (spec.kind === 'isolate') {
            const loner = world.members[rng.int(world.members.length)] as NodeId;
            handles = world.network.split([[loner], world.members.filter((id) => id !== loner)]);
          } else {
            const shuffled = rng.shuffle([...world.members]);
            const half = Math.floor(shuffled.length / 2);
            handles = world.network.split([shuffled.slice(0, half), shuffled.slice(half)]);
          }
        });
      }
      world.at(end, () => handles.forEach((h) => world.network.heal(h)));
    }
  }
}

export interface CrashSchedule {
  /** Every this many ms of the fault phase, one random running node crashes. */
  everyMs: number;
  /** How long a crashed node stays down (it also comes back when the fault phase ends). */
  downMs: number;
}

/** Lays random crashes and restarts onto the agenda; every node is running again at `faultEndMs`. */
export function scheduleCrashes(world: World, schedule: CrashSchedule, faultEndMs: number): void {
  const rng = Rng.stream(world.seed, 'crashes');
  for (let t = schedule.everyMs; t < faultEndMs; t += schedule.everyMs) {
    world.at(t, () => {
      const live = world.liveNodes();
      if (live.length === 0) return;
      const victim = live[rng.int(live.length)] as NodeId;
      world.crash(victim);
      world.at(Math.min(world.now + schedule.downMs, faultEndMs), () => world.restart(victim));
    });
  }
}

function describeIds(ids: readonly NodeId[]): string {
  return ids.length <= 6 ? ids.join(',') : `${ids.slice(0, 3).join(',')},...,${ids.at(-1)}`;
}
