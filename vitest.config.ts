import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // The shipped examples take the SMB password from this variable (examples/storage/smb-archive.yaml).
    env: { XOPS_SECRET_SMB_ARCHIVE_PASSWORD: 'demo-only-password' },
  },
});
