/**
 * The manifests an OVF package becomes (pure): per virtual system one `VM` and one `Disk` per disk, whose
 * `source` names the package and the member holding its image, plus the notes on what could not be mapped.
 * Nothing here touches a pool: the disks are uploaded when `apply` creates them.
 */
import { dump } from 'js-yaml';
import { NameAllocator, sanitiseName } from '../export/names.js';
import { API_VERSION } from '../manifests/schema-kit.js';
import type { OvfNote } from './ovf.js';
import type { VerifiedPackage } from './package.js';

/** The template imported VMs are made from: XAPI's generic HVM template, as XCP-ng's own OVA import uses. */
export const IMPORT_TEMPLATE = 'Other install media';

/** How the import is laid out. */
export interface ImportOptions {
  /** `source.file` as written in the Disk manifests: the package's path relative to the manifest folder. */
  packageRef: string;
  /** SR for the disks (`spec.sr`); omitted: the pool's default SR. */
  sr?: string;
  /** OVF network name → pool network (manifest name or name_label). */
  networks: Map<string, string>;
}

/** One file to write, relative to the manifest folder. */
export interface ImportFile {
  path: string;
  address: string;
  content: string;
}

/** A note, with the manifest it concerns. */
export interface ImportNote extends OvfNote {
  address?: string;
}

/** What the import writes and what it says. */
export interface ImportResult {
  files: ImportFile[];
  notes: ImportNote[];
  /** Per VM: its address, disk count, and the bytes apply will write (the disks' virtual sizes). */
  summary: { address: string; disks: number; uploadBytes: number }[];
}

const UNITS: [number, string][] = [
  [1024 ** 4, 'TiB'],
  [1024 ** 3, 'GiB'],
  [1024 ** 2, 'MiB'],
  [1024, 'KiB'],
];

/** `16GiB` when the bytes are a whole number of a binary unit, else the number of bytes. */
export function sizeText(bytes: number): string | number {
  for (const [n, unit] of UNITS) if (bytes % n === 0) return `${bytes / n}${unit}`;
  return bytes;
}

function render(schemaFile: string, header: string, body: object, trailer: string[]): string {
  return [
    `# yaml-language-server: $schema=../schemas/${schemaFile}`,
    `# ${header}`,
    dump(body, { lineWidth: -1, noRefs: true }).trimEnd(),
    ...trailer.map((l) => `# ${l}`),
  ].join('\n') + '\n';
}

/** The manifests for every virtual system of the verified package. */
export function importManifests(pkg: VerifiedPackage, opts: ImportOptions): ImportResult {
  const vmNames = new NameAllocator();
  const diskNames = new NameAllocator();
  const files: ImportFile[] = [];
  const notes: ImportNote[] = pkg.envelope.notes.map((n) => ({ ...n }));
  const summary: ImportResult['summary'] = [];
  for (const sys of pkg.envelope.systems) {
    const name = vmNames.allocate(sanitiseName(sys.name) || 'imported-vm');
    const address = `VM/${name}`;
    const sysNotes: OvfNote[] = [...sys.notes];
    const disks: { disk: string }[] = [];
    let uploadBytes = 0;
    sys.disks.forEach((d, i) => {
      const suffix = `-disk${i + 1}`;
      const diskName = diskNames.allocate(`${name.slice(0, 63 - suffix.length).replace(/[^a-zA-Z0-9]+$/, '')}${suffix}`);
      disks.push({ disk: diskName });
      const image = d.file ? pkg.disks.get(d.file.href) : undefined;
      if (image) uploadBytes += image.virtualSize;
      const spec: Record<string, unknown> = { size: sizeText(d.capacity) };
      if (opts.sr) spec.sr = opts.sr;
      if (d.file && image) spec.source = { file: opts.packageRef, member: d.file.href, format: image.format };
      const header = image
        ? `Imported by xops import-ova from ${opts.packageRef}: disk '${d.diskId}' of '${sys.name}', a ${image.layout} image of ${image.virtualSize} bytes.`
        : `Imported by xops import-ova from ${opts.packageRef}: disk '${d.diskId}' of '${sys.name}', empty in the package.`;
      files.push({
        path: `disks/${diskName}.yaml`,
        address: `Disk/${diskName}`,
        content: render('disk.schema.json', header, { apiVersion: API_VERSION, kind: 'Disk', metadata: { name: diskName }, spec }, []),
      });
    });
    const networks = sys.nics.map((nic) => {
      const to = opts.networks.get(nic.network);
      if (!to) sysNotes.push({ severity: 'warning', message: `network '${nic.network}' is not mapped to a pool network: the manifest names it as is (map it with --network '${nic.network}=NAME')` });
      return { network: to ?? nic.network, ...(nic.mac ? { mac: nic.mac } : {}) };
    });
    if (sys.guestOs) sysNotes.push({ severity: 'info', message: `guest OS '${sys.guestOs}': the VM is made from template '${IMPORT_TEMPLATE}'; name a closer template if the pool has one` });
    const spec: Record<string, unknown> = {
      ...(name !== sys.name ? { nameLabel: sys.name } : {}),
      template: IMPORT_TEMPLATE,
      vcpus: sys.vcpus,
      ...(sys.coresPerSocket !== undefined ? { coresPerSocket: sys.coresPerSocket } : {}),
      memory: sizeText(sys.memory),
      boot: { firmware: sys.firmware },
      disks,
      networks,
      powerState: 'halted',
    };
    const trailer = sysNotes.length > 0 ? ['', 'Not mapped by the import:', ...sysNotes.map((n) => `- ${n.severity === 'warning' ? 'warning: ' : ''}${n.message}`)] : [];
    files.push({
      path: `vms/${name}.yaml`,
      address,
      content: render('vm.schema.json', `Imported by xops import-ova from ${opts.packageRef} (virtual system '${sys.id || sys.name}').`, { apiVersion: API_VERSION, kind: 'VM', metadata: { name }, spec }, trailer),
    });
    notes.push(...sysNotes.map((n) => ({ ...n, address })));
    summary.push({ address, disks: sys.disks.length, uploadBytes });
  }
  return { files, notes, summary };
}
