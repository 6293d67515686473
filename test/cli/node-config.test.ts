import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/errors.js';
import { resolveNodeConfig, type NodeFlags } from '../../src/cli/node-config.js';
import { stopAll, tempDir } from '../helpers/cluster.js';

afterEach(stopAll);

const flags = (over: Partial<NodeFlags>): NodeFlags => ({
  id: '1',
  host: '127.0.0.1',
  port: 5000,
  portGiven: false,
  loadFactor: 0,
  workers: 1,
  logLevel: 'info',
  logFormat: 'json',
  bodyLimit: 1024,
  callTimeoutMs: 1000,
  ...over,
});

function roster(): string {
  const path = join(tempDir(), 'roster.yaml');
  writeFileSync(path, 'nodes:\n  - {id: 1, team: red, url: "http://192.168.10.11:5000"}\n  - {id: 2, team: blue, url: "http://192.168.10.12:6000"}\n');
  return path;
}

describe('node configuration', () => {
  it('without a roster, the node is a cluster of one at its own address', () => {
    const config = resolveNodeConfig(flags({ id: '3', port: 5003 }));
    expect(config.self).toEqual({ id: '3', team: 'team3', url: 'http://127.0.0.1:5003' });
    expect(config.roster).toEqual([config.self]);
  });

  it("takes its team and port from the roster unless given, and keeps the roster's order", () => {
    const path = roster();
    const fromRoster = resolveNodeConfig(flags({ id: '2', roster: path, host: '0.0.0.0' }));
    expect(fromRoster.port).toBe(6000);
    expect(fromRoster.self).toEqual({ id: '2', team: 'blue', url: 'http://192.168.10.12:6000' });
    expect(fromRoster.roster.map((n) => n.id)).toEqual(['1', '2']);

    const overridden = resolveNodeConfig(flags({ id: '2', roster: path, port: 5000, portGiven: true, team: 'green' }));
    expect(overridden.port).toBe(5000);
    expect(overridden.self.team).toBe('green');
    expect(overridden.roster[1]?.team).toBe('green');
  });

  it('refuses an id that is not in the roster', () => {
    expect(() => resolveNodeConfig(flags({ id: '9', roster: roster() }))).toThrow(UsageError);
    expect(() => resolveNodeConfig(flags({ id: '9', roster: roster() }))).toThrow(/node 9 is not in .*roster\.yaml \(its ids: 1, 2\)/);
  });
});
