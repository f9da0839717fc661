/**
 * Loading manifests at scale: 10,000 VM manifests (one file each, as a large repository would hold
 * them, plus the networks and appliance they reference) written to a temp folder, then loaded cold
 * and warm. Prints ms per thousand VMs for the whole load (read + parse + validate + build) and for
 * the in-memory part alone.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadManifestFiles, loadManifests, readManifestFolder } from '../src/manifests/index.js';

const VMS = 10_000;
const TEMPLATES = ['Debian Bookworm 12', 'Ubuntu Jammy Jellyfish 22.04', 'Rocky Linux 9'];

function vmManifest(i: number): string {
  const name = `vm-${String(i).padStart(5, '0')}`;
  return `# yaml-language-server: $schema=../../schemas/vm.schema.json
apiVersion: xops/v1
kind: VM
metadata:
  name: ${name}
  labels:
    owner: team-${i % 17}
    tier: ${['web', 'app', 'db'][i % 3]}
spec:
  description: generated for the manifests benchmark
  template: ${TEMPLATES[i % TEMPLATES.length]}
  vcpus: ${1 + (i % 8)}
  memory: ${1 + (i % 16)}GiB
  disks:
    - name: root
      size: 20GiB
    - name: data
      size: ${10 * (1 + (i % 10))}GiB
      sr: pool-nfs
  networks:
    - network: net-${i % 10}
  powerState: running
  tags: [bench, shard-${i % 100}]
  otherConfig:
    cost-centre: "${1000 + (i % 50)}"
`;
}

export async function benchManifests(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'xops-bench-manifests-'));
  try {
    await mkdir(join(dir, 'vms'));
    for (let n = 0; n < 10; n++) {
      await writeFile(join(dir, `net-${n}.yaml`), `apiVersion: xops/v1\nkind: Network\nmetadata: {name: net-${n}}\nspec: {vlan: {tag: ${100 + n}, device: eth1}}\n`);
    }
    for (let start = 0; start < VMS; start += 500) {
      await Promise.all(Array.from({ length: Math.min(500, VMS - start) }, (_, k) => writeFile(join(dir, 'vms', `vm-${start + k}.yaml`), vmManifest(start + k))));
    }

    const perThousand = (ms: number) => ((ms / VMS) * 1000).toFixed(1);
    for (const round of ['first (cold: compiles schemas)', 'second (warm)']) {
      const t0 = performance.now();
      const { desired, diagnostics } = await loadManifests(dir);
      const ms = performance.now() - t0;
      if (diagnostics.length || desired.vms.length !== VMS) {
        throw new Error(`bench input did not load cleanly: ${desired.vms.length} VMs, ${diagnostics.length} diagnostics`);
      }
      process.stdout.write(`load ${VMS} VM manifests from disk, ${round}: ${ms.toFixed(0)} ms (${perThousand(ms)} ms per thousand)\n`);
    }

    const { files } = await readManifestFolder(dir);
    const bytes = files.reduce((n, f) => n + f.content.length, 0);
    const t0 = performance.now();
    loadManifestFiles(files, dir);
    const ms = performance.now() - t0;
    process.stdout.write(`parse + validate + build only (${(bytes / 2 ** 20).toFixed(1)} MiB in memory): ${ms.toFixed(0)} ms (${perThousand(ms)} ms per thousand)\n`);
    const heap = process.memoryUsage().heapUsed / 2 ** 20;
    process.stdout.write(`heap after loading: ${heap.toFixed(0)} MiB\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
