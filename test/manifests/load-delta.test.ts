/**
 * The controller's manifest cache loads a set that differs from a kept one in a few VM files by
 * loading only those (src/manifests/load-delta.ts). Its promise is the cache's: the result is the one
 * a full load of the same files gives. These tests walk random sequences of edits (values, names,
 * errors, extra documents, companion files, files added and removed, edits reverted) and compare
 * the cache's answer with a fresh full load after every step.
 */
import { describe, expect, it } from 'vitest';
import { prng } from '../../bench/prng.js';
import { loadManifestFiles, type ManifestFile } from '../../src/manifests/loader.js';
import { ManifestCache } from '../../src/manifests/parse-cache.js';


const vm = (name: string, vcpus: number, extra = '') => `apiVersion: xops/v1
kind: VM
metadata:
  name: ${name}
  labels: {tier: web}
spec:
  template: Debian Bookworm 12
  vcpus: ${vcpus}
  memory: 1GiB
  networks:
    - network: front
${extra}`;

const NETWORK = 'apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: front\nspec:\n  mtu: 1500\n';
const CLOUD_INIT = '  cloudInit:\n    userData:\n      file: vms/web.user-data\n';

function initial(): Map<string, string> {
  const files = new Map<string, string>([['networks/front.yaml', NETWORK], ['vms/web.user-data', '#cloud-config\nhostname: web\n']]);
  for (let i = 0; i < 12; i++) files.set(`vms/vm-${i}.yaml`, vm(`vm-${i}`, 1 + (i % 3), i === 3 ? CLOUD_INIT : ''));
  // Several VMs in one file, as a repository past the file limit packs them.
  files.set('vms/pack.yaml', [vm('pack-a', 1), vm('pack-b', 2), vm('pack-c', 3)].join('---\n'));
  return files;
}

type Edit = (files: Map<string, string>, rand: () => number) => void;
const pickVm = (files: Map<string, string>, rand: () => number) => {
  const vms = [...files.keys()].filter((p) => p.startsWith('vms/') && p.endsWith('.yaml'));
  return vms[Math.floor(rand() * vms.length)]!;
};
const EDITS: Edit[] = [
  // The common case: one VM's value changed (several times over, so deltas chain).
  (f, r) => { const p = pickVm(f, r); f.set(p, f.get(p)!.replace(/vcpus: \d+/, `vcpus: ${1 + Math.floor(r() * 8)}`)); },
  (f, r) => { const p = pickVm(f, r); f.set(p, f.get(p)!.replace(/vcpus: \d+/, `vcpus: ${1 + Math.floor(r() * 8)}`)); },
  (f, r) => { for (let i = 0; i < 2; i++) { const p = pickVm(f, r); f.set(p, f.get(p)!.replace(/memory: \d+GiB/, `memory: ${1 + Math.floor(r() * 4)}GiB`)); } },
  // One VM of the pack changed, and the pack's documents reordered.
  (f, r) => { const p = f.has('vms/pack.yaml') ? 'vms/pack.yaml' : pickVm(f, r); f.set(p, f.get(p)!.replace(/vcpus: \d+/, `vcpus: ${1 + Math.floor(r() * 8)}`)); },
  (f) => { const text = f.get('vms/pack.yaml'); if (text) f.set('vms/pack.yaml', text.split('---\n').reverse().join('---\n')); },
  // Renamed: another name is declared.
  (f, r) => { const p = pickVm(f, r); f.set(p, f.get(p)!.replace(/name: (vm-\d+)/, `name: $1x`)); },
  // A schema error, and a reference to a network no manifest declares.
  (f, r) => { const p = pickVm(f, r); f.set(p, f.get(p)!.replace(/vcpus: \d+/, 'vcpus: many')); },
  (f, r) => { const p = pickVm(f, r); f.set(p, f.get(p)!.replace('network: front', 'network: back')); },
  // A warning only (a near miss of a manifest's name, which the pool may still have), and its fix.
  (f, r) => { const p = pickVm(f, r); f.set(p, f.get(p)!.replace('network: front', 'network: frontx')); },
  (f) => { for (const [p, text] of f) f.set(p, text.replace('network: frontx', 'network: front')); },
  // A second document in a file, and a duplicate name.
  (f, r) => { const p = pickVm(f, r); f.set(p, `${f.get(p)!}---\n${vm(`extra-${Math.floor(r() * 100)}`, 1)}`); },
  (f, r) => { const p = pickVm(f, r); const name = /name: (\S+)/.exec(f.get(pickVm(f, r))!)![1]!; f.set(p, f.get(p)!.replace(/name: \S+/, `name: ${name}`)); },
  // A companion file read by one VM changed.
  (f, r) => { f.set('vms/web.user-data', `#cloud-config\nhostname: web-${Math.floor(r() * 100)}\n`); },
  // An appliance, which fills its members' spec.appliance in (linking reads every VM).
  (f) => { f.set('apps/shop.yaml', 'apiVersion: xops/v1\nkind: VMAppliance\nmetadata: {name: shop}\nspec:\n  members:\n    - {vm: vm-1}\n    - {vm: vm-2}\n'); },
  // Files added and removed.
  (f, r) => { const n = Math.floor(r() * 1000); f.set(`vms/new-${n}.yaml`, vm(`new-${n}`, 2)); },
  (f, r) => { f.delete(pickVm(f, r)); },
];

function asFiles(map: Map<string, string>, buffers: Map<string, Buffer>): ManifestFile[] {
  // The same text keeps its Buffer, as a source hands an unchanged file on (local-source.ts, blob-cache.ts).
  return [...map].map(([path, text]) => {
    let content = buffers.get(`${path}\0${text}`);
    if (!content) buffers.set(`${path}\0${text}`, (content = Buffer.from(text)));
    return { path, content };
  });
}

describe('a load made from a kept load and the VM files that changed', () => {
  it('equals a full load of the same files, over random edits', () => {
    let deltas = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const rand = prng(seed);
      const cache = new ManifestCache();
      const buffers = new Map<string, Buffer>();
      let files = initial();
      const history: Map<string, string>[] = [];
      for (let step = 0; step < 40; step++) {
        if (history.length > 0 && rand() < 0.15) files = new Map(history[Math.floor(rand() * history.length)]!);
        else {
          history.push(new Map(files));
          // Mostly the common edit; the others often enough to cross every rule.
          const edit = rand() < 0.5 ? EDITS[0]! : EDITS[Math.floor(rand() * EDITS.length)]!;
          edit(files, rand);
        }
        const set = asFiles(files, buffers);
        const before = cache.stats.deltaLoads;
        const got = cache.load(set, 'repo', { commit: `c${step}` });
        deltas += cache.stats.deltaLoads - before;
        const want = loadManifestFiles(set.map((f) => ({ path: f.path, content: Buffer.from(f.content) })), 'repo', { commit: `c${step}` });
        expect(got, `seed ${seed} step ${step}`).toEqual(want);
      }
    }
    // The delta path was taken, often: most steps change one VM's value.
    expect(deltas).toBeGreaterThan(60);
  });

  it('loads a set naming a path twice in full, even when as many paths as the kept set', () => {
    const cache = new ManifestCache();
    const files = asFiles(initial(), new Map());
    cache.load(files, 'repo');
    const twice = [...files.filter((f) => f.path !== 'vms/vm-5.yaml'), files.find((f) => f.path === 'vms/vm-4.yaml')!];
    const before = cache.stats.deltaLoads;
    expect(cache.load(twice, 'repo')).toEqual(loadManifestFiles(twice, 'repo'));
    // Sorted, the repeat sits next to itself.
    const sorted = [...twice].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    expect(cache.load(sorted, 'repo')).toEqual(loadManifestFiles(sorted, 'repo'));
    expect(cache.stats.deltaLoads).toBe(before);
  });

  it('builds a changed VM as a full load would keep it: a later full load reuses that VM', () => {
    const cache = new ManifestCache();
    const buffers = new Map<string, Buffer>();
    const files = initial();
    cache.load(asFiles(files, buffers), 'repo');
    files.set('vms/vm-1.yaml', vm('vm-1', 7));
    const delta = cache.load(asFiles(files, buffers), 'repo');
    expect(cache.stats.deltaLoads).toBe(1);
    // Another path: a full load, which finds vm-1's build under the same guard.
    files.set('vms/vm-99.yaml', vm('vm-99', 1));
    const full = cache.load(asFiles(files, buffers), 'repo');
    expect(cache.stats.deltaLoads).toBe(1);
    const vm1 = (r: typeof full) => r.desired.vms.find((v) => v.meta.name === 'vm-1');
    expect(vm1(full)).toBe(vm1(delta));
  });
});
