import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.e2e.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Each test drives its own coordinator and processes; running files one
    // at a time keeps timings readable when a machine is slow.
    fileParallelism: false,
  },
});
