/**
 * Policies read each changed resource's labels and annotations (policy/settings.ts resourceFacts):
 * the first few addresses are searched for in their kind's manifests, later ones come from an index
 * of every resource. Both must answer alike, for manifests that loaded and for those that did not.
 */
import { describe, expect, it } from 'vitest';
import { loadManifestFiles } from '../../src/manifests/loader.js';
import { resourceFacts } from '../../src/policy/settings.js';

const vm = (name: string, labels: string, extra = '') => `apiVersion: xops/v1
kind: VM
metadata:
  name: ${name}
  labels: {${labels}}
  annotations: {xops.io/approve: "tok-${name}", note: "${name}"}
spec:
  template: Debian Bookworm 12
  vcpus: 1
  memory: 1GiB
${extra}`;

function desired() {
  const files = [];
  for (let i = 0; i < 30; i++) files.push({ path: `vms/vm-${i}.yaml`, content: Buffer.from(vm(`vm-${i}`, `tier: t${i % 3}`)) });
  // A VM whose spec does not load: only its raw document tells its labels and annotations.
  files.push({ path: 'vms/broken.yaml', content: Buffer.from(vm('broken', 'tier: broken', '  vcpu: 2\n')) });
  files.push({ path: 'networks/lan.yaml', content: Buffer.from('apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: lan\n  labels: {zone: a}\nspec:\n  nameLabel: lan\n') });
  files.push({ path: 'policies/p.yaml', content: Buffer.from('apiVersion: xops/v1\nkind: Policy\nmetadata:\n  name: prod\n  labels: {scope: all}\nspec:\n  match: {kinds: [VM]}\n') });
  const loaded = loadManifestFiles(files, 'repo', {});
  expect(loaded.desired.vms).toHaveLength(30);
  return loaded.desired;
}

describe('resource facts', () => {
  it('answer the same searched one by one and from the index of every resource', () => {
    const addresses = [...Array.from({ length: 30 }, (_, i) => `VM/vm-${i}`), 'VM/broken', 'Network/lan', 'Policy/prod', 'VM/nobody', 'Network/vm-1', 'Disk/lan'];
    // Asked in order: the first 16 searched, the rest indexed.
    const inOrder = resourceFacts(desired());
    const forward = addresses.map((a) => [a, inOrder.get(a), inOrder.has(a)]);
    // Asked backwards on a fresh load: the others searched this time.
    const backwards = resourceFacts(desired());
    const reverse = [...addresses].reverse().map((a) => [a, backwards.get(a), backwards.has(a)]).reverse();
    expect(reverse).toEqual(forward);
    expect(inOrder.get('VM/vm-4')).toEqual({ name: 'vm-4', labels: { tier: 't1' }, annotations: { 'xops.io/approve': 'tok-vm-4', note: 'vm-4' }, source: expect.anything() });
    expect(inOrder.get('VM/broken')).toEqual({ labels: { tier: 'broken' }, annotations: { 'xops.io/approve': 'tok-broken', note: 'broken' } });
    expect(inOrder.get('Network/lan')?.labels).toEqual({ zone: 'a' });
    expect(inOrder.get('Policy/prod')?.labels).toEqual({ scope: 'all' });
    expect(inOrder.has('VM/nobody')).toBe(false);
    expect(inOrder.has('Network/vm-1')).toBe(false);
  });
});
