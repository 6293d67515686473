/**
 * The rules of the house from ARCHITECTURE.md, checked by reading imports:
 * protocols are pure and import no host or face; live and sim never import
 * each other.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** Every .ts file under src/<dir>; a folder that is missing or empty fails the test rather than passing it. */
function files(dir: string): string[] {
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((name) => {
      const p = join(d, name);
      return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
    });
  const found = walk(join(SRC, dir));
  if (found.length === 0) throw new Error(`no TypeScript files under src/${dir}`);
  return found;
}

function offendingLines(file: string, text: string, pattern: RegExp): string[] {
  return text
    .split('\n')
    .map((line, i) => ({ line, i }))
    .filter(({ line }) => pattern.test(line) && !line.trim().startsWith('*') && !line.trim().startsWith('//'))
    .map(({ line, i }) => `${file}:${i + 1}: ${line.trim()}`);
}

function offending(dir: string, pattern: RegExp): string[] {
  return files(dir).flatMap((f) => offendingLines(f, readFileSync(f, 'utf8'), pattern));
}

const IMPURE = /from ['"](node:|fs|net|http|https|child_process|undici|fastify|pino)|\bDate\.now\(|\bnew Date\(|Math\.random\(|\bsetTimeout\(|\bsetInterval\(|\bfetch\(|\bprocess\./;
const HOST_OR_FACE = /from ['"][./]*\/(live|sim|check|cli|dashboard)\//;

describe('architecture', () => {
  it('recognises what it forbids', () => {
    const sample = [
      "import { readFileSync } from 'node:fs';",
      'const t = Date.now();',
      "import { World } from '../sim/world.js';",
      ' * a comment may mention Date.now() freely',
      'const ok = env.now();',
    ].join('\n');
    expect(offendingLines('x.ts', sample, IMPURE)).toEqual(["x.ts:1: import { readFileSync } from 'node:fs';", 'x.ts:2: const t = Date.now();']);
    expect(offendingLines('x.ts', sample, HOST_OR_FACE)).toEqual(["x.ts:3: import { World } from '../sim/world.js';"]);
  });

  it('protocols do no I/O and read no clock or randomness of their own', () => {
    expect(offending('protocols', IMPURE)).toEqual([]);
  });

  it('protocols import no host or face', () => {
    expect(offending('protocols', HOST_OR_FACE)).toEqual([]);
  });

  it('live and sim never import each other', () => {
    expect(offending('live', /from ['"][./]*\/sim\//)).toEqual([]);
    expect(offending('sim', /from ['"][./]*\/live\//)).toEqual([]);
  });
});
