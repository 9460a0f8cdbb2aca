import { defineConfig } from 'vitest/config';

// Cross-package end-to-end scenarios: real processes, checkpoints and
// restarts, one file at a time.
export default defineConfig({
  test: {
    include: ['**/*.e2e.test.ts'],
    exclude: ['node_modules/**'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
