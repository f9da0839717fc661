/**
 * The OVF descriptor (DMTF DSP0243, 1.x and 2.x, as VMware, VirtualBox and ovftool write it) read into a plain
 * import model: per virtual system its CPUs, memory, firmware, NICs and disks, plus notes for what xops does not
 * model. Pure: text in, model out; every value is checked and bounded.
 */
import { child, childrenNamed, descendants, parseXml, type XmlElement, XmlError } from './xml.js';

/** A descriptor xops refuses: malformed, hostile, or naming something that is not there. Says file and line. */
export class OvfError extends Error {
  override name = 'OvfError';
}

/** A `References/File`: a member of the package. */
export interface OvfFile {
  id: string;
  href: string;
  /** Declared bytes, when the descriptor says. */
  size?: number;
}

/** A disk of a virtual system: its capacity (bytes) and, unless it starts empty, the file holding its image. */
export interface OvfDisk {
  diskId: string;
  capacity: number;
  file?: OvfFile;
  /** The `ovf:format` URI (`...vmdk.html#streamOptimized`), when given. */
  format?: string;
}

/** A network adapter. */
export interface OvfNic {
  /** The OVF network name it connects to (`VM Network`). */
  network: string;
  mac?: string;
}

/** Something the import leaves out or changes, said to the operator. */
export interface OvfNote {
  severity: 'info' | 'warning';
  message: string;
}

/** One virtual system, mapped to what a VM manifest declares. */
export interface OvfSystem {
  id: string;
  name: string;
  vcpus: number;
  coresPerSocket?: number;
  /** Bytes. */
  memory: number;
  firmware: 'bios' | 'uefi';
  nics: OvfNic[];
  disks: OvfDisk[];
  /** OperatingSystemSection's description or VMware osType, when given. */
  guestOs?: string;
  notes: OvfNote[];
}

/** The whole descriptor. */
export interface OvfEnvelope {
  /** `1` or `2`, from the envelope namespace; undefined when it is neither. */
  version?: '1' | '2';
  files: OvfFile[];
  systems: OvfSystem[];
  notes: OvfNote[];
}

const KiB = 1024;
const TiB = KiB ** 4;
/** Bounds on values: anything past them is refused as hostile or broken. */
export const OVF_LIMITS = { maxCapacity: 64 * TiB, maxMemory: 24 * TiB, maxVcpus: 1024, maxSystems: 64, maxItems: 512 };

/** CIM ResourceType values xops notes by name when it does not import them. */
const DEVICE_NAMES: Record<number, string> = {
  1: 'other device',
  5: 'IDE controller',
  6: 'SCSI controller',
  7: 'Fibre Channel adapter',
  14: 'floppy drive',
  15: 'CD drive',
  16: 'DVD drive',
  20: 'storage controller',
  21: 'serial port',
  22: 'parallel port',
  23: 'USB controller',
  24: 'graphics controller',
  25: 'IEEE 1394 controller',
  35: 'sound card',
};
/** Controllers: disks are attached through Xen's own devices, so these are only worth an info note. */
const CONTROLLERS = new Set([5, 6, 7, 20]);

/**
 * Bytes per unit of a DSP0004 programmatic unit as OVF uses them: `byte`, `byte * 2^20`, `byte * 10^9`, and the
 * older words `KiloBytes`, `MegaBytes`, `GigaBytes` VMware wrote.
 */
export function unitBytes(units: string | undefined, fallback: number): number | undefined {
  if (units === undefined || units.trim() === '') return fallback;
  const words: Record<string, number> = { kilobytes: KiB, megabytes: KiB ** 2, gigabytes: KiB ** 3, terabytes: KiB ** 4 };
  const w = words[units.trim().toLowerCase()];
  if (w) return w;
  const m = /^\s*bytes?\s*(?:\*\s*(2|10)\s*\^\s*(\d{1,2}))?\s*$/i.exec(units);
  if (!m) return undefined;
  return m[1] ? Number(m[1]) ** Number(m[2]) : 1;
}

/** Reads the descriptor text. `what` names it in errors (`app.ova: app.ovf`). */
export function parseOvf(text: string, what: string): OvfEnvelope {
  let root: XmlElement;
  try {
    root = parseXml(text, what);
  } catch (e) {
    if (e instanceof XmlError) throw new OvfError(e.message);
    throw e;
  }
  const fail = (el: XmlElement, msg: string): never => {
    throw new OvfError(`${what}: line ${el.line}: ${msg}`);
  };
  if (root.name !== 'Envelope') fail(root, `the root element is <${root.name}>, not an OVF <Envelope>`);
  const version = /envelope\/2/.test(text.slice(0, 4096)) ? '2' : /envelope\/1/.test(text.slice(0, 4096)) ? '1' : undefined;
  const notes: OvfNote[] = [];

  const integer = (el: XmlElement, raw: string | undefined, field: string, max: number): number => {
    const s = (raw ?? '').trim();
    if (s.startsWith('${')) fail(el, `${field} '${s}' refers to an OVF property; xops needs a number`);
    if (!/^\d{1,20}$/.test(s)) fail(el, `${field} '${s}' is not a whole number`);
    const v = Number(s);
    if (!Number.isSafeInteger(v) || v > max) fail(el, `${field} ${s} is over the limit of ${max}`);
    return v;
  };
  const scaled = (el: XmlElement, quantity: number, units: string | undefined, fallback: number, field: string, max: number): number => {
    const per = unitBytes(units, fallback);
    if (per === undefined) return fail(el, `${field}: unknown allocation units '${units}'`);
    const v = quantity * per;
    if (!Number.isSafeInteger(v) || v > max) fail(el, `${field} of ${quantity} x ${units ?? fallback} is over the limit of ${max} bytes`);
    return v;
  };

  const files = new Map<string, OvfFile>();
  const refs = child(root, 'References');
  for (const f of refs ? childrenNamed(refs, 'File') : []) {
    const id = f.attrs.id;
    const href = f.attrs.href;
    if (!id || !href) fail(f, '<File> needs ovf:id and ovf:href');
    if (files.has(id!)) fail(f, `two files with id '${id}'`);
    if (f.attrs.compression) fail(f, `file '${href}' is compressed (${f.attrs.compression}); xops reads uncompressed members only`);
    if (f.attrs.chunkSize) fail(f, `file '${href}' is split in chunks; xops reads whole members only`);
    if (!isPlainMember(href!)) fail(f, `file href '${href}' is not a plain name inside the package (no URLs, absolute paths or '..')`);
    files.set(id!, { id: id!, href: href!, ...(f.attrs.size !== undefined ? { size: integer(f, f.attrs.size, 'ovf:size', Number.MAX_SAFE_INTEGER) } : {}) });
  }

  const disks = new Map<string, OvfDisk>();
  for (const section of childrenNamed(root, 'DiskSection')) {
    for (const d of childrenNamed(section, 'Disk')) {
      const id = d.attrs.diskId;
      if (!id) fail(d, '<Disk> needs ovf:diskId');
      const capacity = scaled(d, integer(d, d.attrs.capacity, 'ovf:capacity', Number.MAX_SAFE_INTEGER), d.attrs.capacityAllocationUnits, 1, 'disk capacity', OVF_LIMITS.maxCapacity);
      if (capacity === 0) fail(d, `disk '${id}' has capacity 0`);
      let file: OvfFile | undefined;
      if (d.attrs.fileRef) {
        file = files.get(d.attrs.fileRef);
        if (!file) fail(d, `disk '${id}' refers to file '${d.attrs.fileRef}', which <References> does not list`);
      }
      disks.set(id!, { diskId: id!, capacity, ...(file ? { file } : {}), ...(d.attrs.format ? { format: d.attrs.format } : {}) });
    }
  }

  const systemEls = descendants(root, 'VirtualSystem');
  if (systemEls.length === 0) fail(root, 'no <VirtualSystem>');
  if (systemEls.length > OVF_LIMITS.maxSystems) fail(root, `more than ${OVF_LIMITS.maxSystems} virtual systems`);
  const used = new Set<string>();
  const systems = systemEls.map((vs) => readSystem(vs));
  for (const d of disks.values()) if (!used.has(d.diskId)) notes.push({ severity: 'info', message: `disk '${d.diskId}' is attached to no virtual system: not imported` });
  for (const name of ['ProductSection', 'EulaSection', 'DeploymentOptionSection', 'StartupSection'])
    if (descendants(root, name).length > 0) notes.push({ severity: 'info', message: `${name}: not imported (xops does not model it)` });
  return { ...(version ? { version } : {}), files: [...files.values()], systems, notes };

  function readSystem(vs: XmlElement): OvfSystem {
    const id = vs.attrs.id ?? '';
    const name = child(vs, 'Name')?.text || id;
    if (!name) fail(vs, '<VirtualSystem> has neither ovf:id nor <Name>');
    const sysNotes: OvfNote[] = [];
    const hw = child(vs, 'VirtualHardwareSection');
    if (!hw) return fail(vs, `virtual system '${name}' has no <VirtualHardwareSection>`);
    const items = hw.children.filter((c) => c.name === 'Item' || c.name === 'EthernetPortItem' || c.name === 'StorageItem');
    if (items.length > OVF_LIMITS.maxItems) fail(hw, `more than ${OVF_LIMITS.maxItems} hardware items`);
    let vcpus: number | undefined;
    let coresPerSocket: number | undefined;
    let memory: number | undefined;
    const nics: OvfNic[] = [];
    const sysDisks: OvfDisk[] = [];
    for (const item of items) {
      const field = (n: string): string | undefined => child(item, n)?.text;
      const type = integer(item, field('ResourceType'), 'rasd:ResourceType', 65535);
      const label = field('ElementName') || field('Caption') || `item ${field('InstanceID') ?? '?'}`;
      if (type === 3) {
        vcpus = integer(item, field('VirtualQuantity'), 'CPU count (rasd:VirtualQuantity)', OVF_LIMITS.maxVcpus);
        if (vcpus === 0) fail(item, 'CPU count is 0');
        const cps = field('CoresPerSocket');
        if (cps !== undefined) coresPerSocket = integer(item, cps, 'CoresPerSocket', OVF_LIMITS.maxVcpus);
      } else if (type === 4) {
        const q = integer(item, field('VirtualQuantity'), 'memory (rasd:VirtualQuantity)', Number.MAX_SAFE_INTEGER);
        memory = scaled(item, q, field('AllocationUnits'), KiB ** 2, 'memory', OVF_LIMITS.maxMemory);
      } else if (type === 10) {
        const network = field('Connection');
        if (!network) {
          sysNotes.push({ severity: 'warning', message: `network adapter '${label}' is connected to no network: not imported` });
          continue;
        }
        const mac = field('Address');
        const sub = field('ResourceSubType');
        nics.push({ network, ...(mac && /^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i.test(mac) ? { mac: mac.replace(/-/g, ':').toLowerCase() } : {}) });
        if (sub) sysNotes.push({ severity: 'info', message: `network adapter '${label}' is a ${sub}; the VM gets Xen's network device instead` });
      } else if (type === 17) {
        const host = field('HostResource') ?? '';
        const m = /^(?:ovf:)?\/disk\/(.+)$/.exec(host);
        if (!m) {
          sysNotes.push({ severity: 'warning', message: `disk drive '${label}' has host resource '${host}', not a disk of the DiskSection: not imported` });
          continue;
        }
        const disk = disks.get(m[1]!);
        if (!disk) return fail(item, `disk drive '${label}' refers to disk '${m[1]}', which <DiskSection> does not declare`);
        if (used.has(disk.diskId)) fail(item, `disk '${disk.diskId}' is attached twice`);
        used.add(disk.diskId);
        sysDisks.push(disk);
      } else if (CONTROLLERS.has(type)) {
        const sub = field('ResourceSubType');
        sysNotes.push({ severity: 'info', message: `${DEVICE_NAMES[type]} '${label}'${sub ? ` (${sub})` : ''}: not imported; disks attach to Xen's own virtual devices` });
      } else {
        sysNotes.push({ severity: 'info', message: `${DEVICE_NAMES[type] ?? `device of ResourceType ${type}`} '${label}': not imported (xops does not model it)` });
      }
    }
    if (vcpus === undefined) fail(hw, `virtual system '${name}' declares no CPU (ResourceType 3)`);
    if (memory === undefined) fail(hw, `virtual system '${name}' declares no memory (ResourceType 4)`);
    if (coresPerSocket !== undefined && (coresPerSocket === 0 || vcpus! % coresPerSocket !== 0)) {
      sysNotes.push({ severity: 'warning', message: `CoresPerSocket ${coresPerSocket} does not divide ${vcpus} CPUs: left out` });
      coresPerSocket = undefined;
    }
    const os = child(vs, 'OperatingSystemSection');
    const guestOs = os ? os.attrs.osType || child(os, 'Description')?.text || undefined : undefined;
    return {
      id,
      name,
      vcpus: vcpus!,
      ...(coresPerSocket !== undefined ? { coresPerSocket } : {}),
      memory: memory!,
      firmware: firmwareOf(vs),
      nics,
      disks: sysDisks,
      ...(guestOs ? { guestOs } : {}),
      notes: sysNotes,
    };
  }
}

/** EFI when VMware's `vmw:Config firmware=efi` or VirtualBox's `<Firmware type="EFI">` says so; BIOS otherwise. */
function firmwareOf(vs: XmlElement): 'bios' | 'uefi' {
  for (const c of descendants(vs, 'Config')) if (c.attrs.key === 'firmware' && /efi/i.test(c.attrs.value ?? '')) return 'uefi';
  for (const f of descendants(vs, 'Firmware')) if (/efi/i.test(f.attrs.type ?? f.text)) return 'uefi';
  return 'bios';
}

/** A member name a descriptor may refer to: relative, no `..`, no scheme, no backslashes. */
export function isPlainMember(href: string): boolean {
  if (href === '' || href.length > 255 || href.startsWith('/') || href.includes('\\') || /^[a-z][a-z0-9+.-]*:/i.test(href)) return false;
  return href.split('/').every((part) => part !== '..' && part !== '.' && part !== '');
}
