/**
 * The rules of the house from ARCHITECTURE.md, checked by reading imports:
 * protocols are pure and import no host or face; live and sim never import
 * each other.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function offending(dir: string, pattern: RegExp): string[] {
  return files(dir).flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .map((line, i) => ({ line, i }))
      .filter(({ line }) => pattern.test(line) && !line.trim().startsWith('*') && !line.trim().startsWith('//'))
      .map(({ line, i }) => `${f}:${i + 1}: ${line.trim()}`),
  );
}

describe('architecture', () => {
  it('protocols do no I/O and read no clock or randomness of their own', () => {
    const impure = /from ['"](node:|fs|net|http|https|child_process|undici|fastify|pino)|\bDate\.now\(|\bnew Date\(|Math\.random\(|\bsetTimeout\(|\bsetInterval\(|\bfetch\(|\bprocess\./;
    expect(offending('src/protocols', impure)).toEqual([]);
  });

  it('protocols import no host or face', () => {
    expect(offending('src/protocols', /from ['"][./]*\/(live|sim|check|cli|dashboard)\//)).toEqual([]);
  });

  it('live and sim never import each other', () => {
    expect(offending('src/live', /from ['"][./]*\/sim\//)).toEqual([]);
    expect(offending('src/sim', /from ['"][./]*\/live\//)).toEqual([]);
  });
});
