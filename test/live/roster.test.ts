import { describe, expect, it } from 'vitest';
import { formatRoster, jsonId, nextInRing, parseRoster, RosterError } from '../../src/live/roster.js';

describe('roster files', () => {
  it('reads a YAML roster with a nodes list; integer ids become strings, team defaults to team<id>', () => {
    const roster = parseRoster(
      'nodes:\n  - {id: 1, team: alpha, url: "http://192.168.10.11:5000"}\n  - {id: n2, url: "http://192.168.10.12:5000/"}\n',
      'roster.yaml',
    );
    expect(roster).toEqual([
      { id: '1', team: 'alpha', url: 'http://192.168.10.11:5000' },
      { id: 'n2', team: 'teamn2', url: 'http://192.168.10.12:5000' },
    ]);
  });

  it('reads a bare list, and JSON', () => {
    expect(parseRoster('- {id: 3, url: "http://h:1"}', 'r.yml')).toEqual([{ id: '3', team: 'team3', url: 'http://h:1' }]);
    expect(parseRoster('{"nodes": [{"id": "7", "team": "t", "url": "https://x:9"}]}', 'r.json')).toEqual([
      { id: '7', team: 't', url: 'https://x:9' },
    ]);
  });

  it.each([
    ['nodes: 3', /expected a list of nodes/],
    ['nodes: []', /lists no nodes/],
    ['- {team: a, url: "http://h:1"}', /node #1: missing id/],
    ['- {id: 1, team: a}', /node #1 \(id 1\): missing url/],
    ['- {id: 1, url: "ftp://h:1"}', /must start with http/],
    ['- {id: 1, url: "not a url"}', /is not a URL/],
    ['- {id: 1, url: "http://h:1/path"}', /must not have a path/],
    ['- {id: "a b", url: "http://h:1"}', /id must be/],
    ['- {id: -1, url: "http://h:1"}', /id must be/],
    ['- {id: 1, url: "http://h:1", role: x}', /unknown field 'role'/],
    ['- {id: 1, team: "", url: "http://h:1"}', /team must be a non-empty string/],
    ['- {id: 1, url: "http://h:1"}\n- {id: 1, url: "http://h:2"}', /node #2: id 1 is already used by node #1/],
    ['- {id: 1, url: "http://h:1"}\n- {id: 2, url: "http://h:1"}', /url http:\/\/h:1 is already used by node #1/],
    ['nodes: [ {id: 1', /cannot parse/],
  ])('rejects %j with a clear message', (text, message) => {
    expect(() => parseRoster(text, 'roster.yaml')).toThrow(RosterError);
    expect(() => parseRoster(text, 'roster.yaml')).toThrow(message);
    expect(() => parseRoster(text, 'roster.yaml')).toThrow(/^roster\.yaml: /);
  });

  it('rejects malformed JSON in a .json file', () => {
    expect(() => parseRoster('{"nodes": [', 'r.json')).toThrow(/r\.json: cannot parse/);
  });

  it('writes a roster that reads back the same, as YAML or JSON', () => {
    const roster = [
      { id: '1', team: 'team1', url: 'http://127.0.0.1:5001' },
      { id: 'b', team: 'blue', url: 'http://127.0.0.1:5002' },
    ];
    expect(parseRoster(formatRoster(roster, 'r.yaml'), 'r.yaml')).toEqual(roster);
    expect(parseRoster(formatRoster(roster, 'r.json'), 'r.json')).toEqual(roster);
    expect(formatRoster(roster, 'r.yaml')).toContain('id: 1\n');
  });

  it('finds the ring successor, wrapping round', () => {
    const roster = parseRoster('- {id: 1, url: "http://h:1"}\n- {id: 2, url: "http://h:2"}\n- {id: 3, url: "http://h:3"}', 'r.yaml');
    expect(nextInRing(roster, '1')?.id).toBe('2');
    expect(nextInRing(roster, '3')?.id).toBe('1');
    expect(nextInRing(roster, '9')).toBeUndefined();
  });

  it('shows integer ids as numbers in JSON, anything else as text', () => {
    expect(jsonId('1')).toBe(1);
    expect(jsonId('0')).toBe(0);
    expect(jsonId('01')).toBe('01');
    expect(jsonId('n1')).toBe('n1');
  });
});
