import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // The examples' SMB SR reads its password from the environment, as `npm start` provides it.
    env: { SMB_ARCHIVE_PASSWORD: 'demo-only-not-a-real-password' },
  },
});
