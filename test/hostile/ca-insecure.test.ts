import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectionSettings } from '../../src/cli/connection.js';
import { UserError } from '../../src/cli/errors.js';

describe('--ca together with --insecure', () => {
  it('is refused as contradictory instead of silently trusting every certificate', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xops-ca-'));
    const ca = join(dir, 'ca.pem');
    await writeFile(ca, '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
    const env = { XOPS_XAPI_URL: 'https://pool', XOPS_XAPI_PASSWORD: 'pw' };
    const err = await connectionSettings({ ca, insecure: true }, env).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe('--ca and --insecure contradict each other: pass one');
    // Each alone is still accepted.
    await expect(connectionSettings({ ca }, env)).resolves.toMatchObject({ ca, insecure: false });
    await expect(connectionSettings({ insecure: true }, env)).resolves.toMatchObject({ insecure: true });
  });
});
