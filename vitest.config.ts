import { defineConfig } from 'vitest/config';

// Tests import the TypeScript sources directly; integration tests spawn the
// built CLI (dist/cli/main.js), which `npm test` builds first.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start real processes; two cores do not like many at once.
    maxWorkers: 2,
  },
});
