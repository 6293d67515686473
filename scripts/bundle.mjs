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
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Built-in modules that bundled packages require at load time but a node
 * uses only in a configuration it may never have: fastify's server module
 * requires node:https and node:http2 (for the `https`/`http2` options) and
 * light-my-request node:crypto (for one UUID in multipart payloads, which
 * fastify.inject builds). Loading them costs an idle node about 2.4 MB of
 * resident memory (node:http2 alone 2.3 MB: `node -e` comparisons,
 * README "Benchmarks"). Each such `require` becomes a stand-in that loads
 * the module on first use. A line not found, or a file never loaded,
 * fails the build: the dependency changed, so look again.
 */
const LAZY_BUILTINS = [
  {
    file: /node_modules[\\/]fastify[\\/]lib[\\/]server\.js$/,
    replace: [
      ["const https = require('node:https')", "const https = lazyBuiltin('node:https')"],
      ["const http2 = require('node:http2')", "const http2 = lazyBuiltin('node:http2')"],
    ],
  },
  {
    file: /node_modules[\\/]light-my-request[\\/]lib[\\/]form-data\.js$/,
    replace: [["const { randomUUID } = require('node:crypto')", "const randomUUID = () => require('node:crypto').randomUUID()"]],
  },
];
const LAZY_BUILTIN_HELPER =
  '\nfunction lazyBuiltin (id) { let m; return new Proxy({}, { get: (_, key) => (m ??= require(id))[key] }) }\n';

const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    const patched = new Set();
    for (const { file, replace } of LAZY_BUILTINS) {
      b.onLoad({ filter: file }, (args) => {
        patched.add(file);
        let source = readFileSync(args.path, 'utf8');
        for (const [from, to] of replace) {
          if (!source.includes(from)) throw new Error(`lazy-builtins: '${from}' is no longer in ${args.path}`);
          source = source.replace(from, to);
        }
        if (source.includes('lazyBuiltin(')) source += LAZY_BUILTIN_HELPER;
        return { contents: source, loader: 'js' };
      });
    }
    b.onEnd((result) => {
      const missing = LAZY_BUILTINS.filter(({ file }) => !patched.has(file));
      if (missing.length > 0 && result.errors.length === 0) {
        throw new Error(`lazy-builtins: no bundled file matched ${missing.map(({ file }) => file).join(', ')}`);
      }
    });
  },
};

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
  plugins: [lazyBuiltins],
  logLevel: 'warning',
});
