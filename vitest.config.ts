import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // tests run the debug flavour of the module: assertions compiled in
    env: { MEMVISOR_DEBUG: '1' },
    // the Node entry loaded in every test file (file swap, image and trace files)
    setupFiles: ['test/support/node-entry.ts'],
    testTimeout: 120_000,
    pool: 'forks',
    reporters: ['default', './test/summary-reporter.ts'],
  },
  benchmark: {
    include: ['bench/**/*.bench.ts'],
  },
});
