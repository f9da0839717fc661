import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // Each worker keeps its module cache across files: importing the sources again for each of 150 files
    // was about 40% of the suite's CPU. Test files must therefore not leave global state behind.
    isolate: false,
    // Vitest's default is one worker per core less one: a single worker on a 2-core CI machine, while
    // most files spend their time waiting on simulators and child processes.
    maxWorkers: 2,
    // The shipped examples take the SMB password from this variable (examples/storage/smb-archive.yaml).
    // Caches, lease identities and histories of the processes tests start go to a temp folder, not ~/.cache.
    env: { XOPS_SECRET_SMB_ARCHIVE_PASSWORD: 'demo-only-password', XDG_CACHE_HOME: join(tmpdir(), 'xops-test-cache') },
  },
});
