/**
 * `npm run build`'s second step: bundles the compiled CLI (dist/cli/main.js)
 * and its dependencies into dist/bundle/, the `distlab` users run and the
 * processes `distlab up` spawns.
 *
 * Why: a node started from dist/ loads some 600 files (fastify, TypeBox's
 * ESM build alone is ~250); from the bundle it loads a few dozen. That is
 * most of a node's start-up time and several MB of its resident memory
 * (README, "Benchmarks"). Commands stay lazily loaded: each is its own
 * chunk (--splitting), so `distlab ping` does not load the node's server.
 *
 * Left outside, resolved from node_modules at run time: better-sqlite3 (a
 * native addon), what the code loads through createRequire on demand (yaml,
 * pino-pretty), and undici: it is CommonJS only, and a dynamic import() of
 * it from the bundle loses its named exports (esbuild's interop is not
 * Node's), so the node's /call-echo would find no `Agent`. Identifiers are kept so stack traces in logs
 * and `protocol.error` events stay readable.
 */
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundle`;
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [`${root}dist/cli/main.js`],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  external: ['better-sqlite3', 'pino-pretty', 'yaml', 'undici'],
  // Bundled CommonJS packages (fastify, pino, ...) call require() for Node's built-ins.
  banner: { js: "import { createRequire as __distlabRequire } from 'node:module'; const require = __distlabRequire(import.meta.url);" },
  logLevel: 'warning',
});
