import { configDefaults, defineConfig } from 'vitest/config';

// Two projects: fast unit tests beside the code, and integration tests that run against a
// real control plane started once per run by test/integration/global-setup.ts.
// `npm test` runs both; `npm run test:unit` runs only the first.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/integration/**'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
