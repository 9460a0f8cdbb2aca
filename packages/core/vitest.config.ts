import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The core's own tests run the core alone: installed plugin packages may
    // not even be built yet when turbo runs these.
    env: { DMTCP_BUILTIN_PLUGINS: '0' },
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/**/*.e2e.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
