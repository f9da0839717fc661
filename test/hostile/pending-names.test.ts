import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyFolder, failures, simWithClient } from '../apply/helpers.js';

const VM = `apiVersion: xops/v1
kind: VM
metadata: {name: vm1}
spec:
  template: Debian Bookworm 12
  vcpus: 1
  vcpusMax: 2
  memory: 1GiB
  memoryMax: 2GiB
`;

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

async function repo(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'xops-pending-'));
  await writeFile(join(dir, 'vm.yaml'), VM);
  return dir;
}

describe('objects named xops-pending:... that xops did not make', () => {
  it("a VM under the pending name marked by another repository is a conflict: not claimed, not renamed, not destroyed", async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const [tpl] = await env.client.call<string[]>('VM.get_by_name_label', 'Debian Bookworm 12');
    const planted = await env.client.callAsync<string>('VM.clone', tpl, 'xops-pending:VM/vm1');
    await env.client.call('VM.set_other_config', planted, { 'xops.managed': 'VM/vm1', 'xops.repo': 'git@example.com:someone-else.git' });
    const { result } = await applyFolder(env.client, await repo());
    expect(failures(result).join('\n')).toMatch(/create:VM\/vm1: failed: .*refusing to claim VM .* named xops-pending:VM\/vm1: it is marked VM\/vm1 by git@example.com:someone-else.git/);
    const rec = env.sim.db.record(planted);
    expect(rec.name_label).toBe('xops-pending:VM/vm1');
    expect((rec.other_config as Record<string, string>)['xops.repo']).toBe('git@example.com:someone-else.git');
  }, 60_000);

  it('two unmarked VMs under the pending name: neither is claimed nor destroyed as a duplicate', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const [tpl] = await env.client.call<string[]>('VM.get_by_name_label', 'Debian Bookworm 12');
    const a = await env.client.callAsync<string>('VM.clone', tpl, 'xops-pending:VM/vm1');
    const b = await env.client.callAsync<string>('VM.clone', tpl, 'xops-pending:VM/vm1');
    const { result } = await applyFolder(env.client, await repo());
    expect(failures(result).join('\n')).toMatch(/refusing to claim any of 2 unmarked VM objects named xops-pending:VM\/vm1: nothing proves which one xops made/);
    for (const ref of [a, b]) {
      expect(env.sim.db.record(ref).name_label).toBe('xops-pending:VM/vm1');
      expect((env.sim.db.record(ref).other_config as Record<string, string>)['xops.managed']).toBeUndefined();
    }
  }, 60_000);

  it('once the VM exists, an unmarked VM under its pending name is a conflict, not a duplicate to destroy', async () => {
    const env = await simWithClient();
    cleanup.push(env.stop);
    const dir = await repo();
    expect(failures((await applyFolder(env.client, dir)).result)).toEqual([]);
    const [tpl] = await env.client.call<string[]>('VM.get_by_name_label', 'Debian Bookworm 12');
    const stray = await env.client.callAsync<string>('VM.clone', tpl, 'xops-pending:VM/vm1');
    await env.client.call('VM.set_other_config', stray, {});
    // Nothing to change: the stray object is not even looked at, and survives.
    expect(failures((await applyFolder(env.client, dir)).result)).toEqual([]);
    expect(env.sim.db.record(stray).name_label).toBe('xops-pending:VM/vm1');
  }, 60_000);
});
