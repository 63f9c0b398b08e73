import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // tests run the debug flavour of the module: assertions compiled in
    env: { MEMVISOR_DEBUG: '1' },
    testTimeout: 120_000,
    pool: 'forks',
    reporters: ['default', './test/summary-reporter.ts'],
  },
  benchmark: {
    include: ['bench/**/*.bench.ts'],
  },
});
