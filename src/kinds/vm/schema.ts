import type { DesiredVM, HaRestartPriority, PowerState } from '../../model/desired.js';
import { closedObject, documentSchema, ref } from '../../manifests/schema-kit.js';
import { checkOtherConfig, type KindDefinition } from '../../manifests/build-context.js';
import { decodeAttachments, isAttachmentEntry, type DiskEntry } from './attachments.js';

interface VMSpec {
  nameLabel?: string;
  description?: string;
  template: string;
  vcpus: number;
  vcpusMax?: number;
  memory: number | string;
  memoryMax?: number | string;
  disks?: DiskEntry[];
  networks?: { network: string; mac?: string }[];
  powerState?: PowerState;
  host?: string;
  haRestartPriority?: HaRestartPriority;
  autoPowerOn?: boolean;
  appliance?: string;
  tags?: string[];
  otherConfig?: Record<string, string>;
}

/** Smallest memory XAPI will boot a guest with in practice; below it is a typo (MiB for GiB, or bytes). */
const MIN_MEMORY = 16 * 1024 * 1024;

/** A virtual machine cloned from a template, with its disks and network interfaces. */
export const vmSchema: KindDefinition<DesiredVM> = {
  kind: 'VM',
  schemaFile: 'vm.schema.json',
  schema: documentSchema(
    'VM',
    'a virtual machine',
    'A VM installed from a template, with its disks (VDIs) and network interfaces (VIFs).',
    closedObject(
      {
        nameLabel: { type: 'string', minLength: 1, description: 'name_label (default: metadata.name).' },
        description: { type: 'string', description: 'name_description.' },
        template: ref('reference', 'The template to install from: an existing template\'s name_label or uuid.'),
        vcpus: { type: 'integer', minimum: 1, maximum: 256, description: 'VCPUs at startup.' },
        vcpusMax: { type: 'integer', minimum: 1, maximum: 256, description: 'VCPUs_max (default: vcpus). Raising vcpus up to it is a hot change.' },
        memory: ref('size', 'Memory (dynamic min = dynamic max), e.g. 2GiB.'),
        memoryMax: ref('size', 'Static max memory (default: memory). Growing memory up to it is a hot change.'),
        disks: {
          type: 'array',
          description: 'Disks, in device order. Each `{name, size}` becomes a VDI named `<vm>-<disk>`; each `{disk: NAME}` attaches the standalone Disk manifest NAME (the next free device), which outlives the VM.',
          items: {
            if: { type: 'object', required: ['disk'] },
            then: closedObject({ disk: ref('reference', 'A Disk manifest\'s name: the standalone disk to attach.') }, ['disk']),
            else: closedObject(
              {
                name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$', patternErrorMessage: 'must be a short name of letters, digits, dashes or underscores', description: 'Unique within the VM, e.g. root, data.' },
                size: ref('size', 'Virtual size, e.g. 20GiB. Growing is allowed; shrinking is refused.'),
                sr: ref('reference', 'SR for the disk (default: the pool\'s default SR).'),
              },
              ['name', 'size'],
            ),
          },
        },
        networks: {
          type: 'array',
          description: 'Network interfaces, in device order (VIF 0, 1, ...).',
          items: closedObject(
            {
              network: ref('reference', 'A Network manifest name, or an existing network\'s name_label or uuid.'),
              mac: { type: 'string', pattern: '^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$', patternErrorMessage: 'must be a MAC address like 52:54:00:12:34:56', description: 'Fixed MAC (default: generated).' },
            },
            ['network'],
          ),
        },
        powerState: { enum: ['running', 'halted', 'suspended', 'paused'], default: 'running', description: 'Power state to keep the VM in.' },
        host: ref('reference', 'Affinity host: a Host manifest name, or a host\'s name_label or uuid.'),
        haRestartPriority: { enum: ['restart', 'best-effort', ''], description: 'HA restart priority (empty: not protected).' },
        autoPowerOn: { type: 'boolean', description: 'Start the VM when the pool starts (other_config auto_poweron).' },
        appliance: ref('reference', 'The VMAppliance manifest this VM belongs to.'),
        tags: ref('tags'),
        otherConfig: ref('otherConfig'),
      },
      ['template', 'vcpus', 'memory'],
    ),
  ),
  build(raw, meta, ctx) {
    const spec = raw as unknown as VMSpec;
    const vcpusMax = spec.vcpusMax ?? spec.vcpus;
    if (vcpusMax < spec.vcpus) ctx.error('spec.vcpusMax', `vcpusMax (${vcpusMax}) is below vcpus (${spec.vcpus})`);
    const memory = ctx.size(spec.memory, 'spec.memory') ?? 0;
    if (memory > 0 && memory < MIN_MEMORY) ctx.error('spec.memory', `${memory} bytes is too little memory for a VM (at least 16MiB; did you forget the unit?)`);
    const memoryMax = spec.memoryMax === undefined ? memory : (ctx.size(spec.memoryMax, 'spec.memoryMax') ?? memory);
    if (memoryMax < memory) ctx.error('spec.memoryMax', 'memoryMax is below memory');
    const seen = new Map<string, number>();
    const disks = (spec.disks ?? []).flatMap((disk, i) => {
      if (isAttachmentEntry(disk)) return [];
      const path = `spec.disks[${i}]`;
      const first = seen.get(disk.name);
      if (first !== undefined) ctx.error(`${path}.name`, `disk name '${disk.name}' is already used by spec.disks[${first}]`, 'duplicate-name');
      else seen.set(disk.name, i);
      const size = ctx.size(disk.size, `${path}.size`);
      if (size === 0) ctx.error(`${path}.size`, 'a disk needs a size above zero');
      return [{ name: disk.name, size: size ?? 0, ...(disk.sr !== undefined ? { sr: ctx.ref('SR', disk.sr, `${path}.sr`) } : {}) }];
    });
    const attachments = decodeAttachments(spec.disks ?? [], ctx);
    const networks = (spec.networks ?? []).map((vif, i) => ({
      network: ctx.ref('Network', vif.network, `spec.networks[${i}].network`),
      ...(vif.mac !== undefined ? { mac: vif.mac.toLowerCase() } : {}),
    }));
    return {
      kind: 'VM',
      meta,
      spec: {
        nameLabel: spec.nameLabel ?? meta.name,
        ...(spec.description !== undefined ? { description: spec.description } : {}),
        template: ctx.ref('Template', spec.template, 'spec.template'),
        vcpus: spec.vcpus,
        vcpusMax,
        memory,
        memoryMax,
        disks,
        ...(attachments.length > 0 ? { attachments } : {}),
        networks,
        powerState: spec.powerState ?? 'running',
        ...(spec.host !== undefined ? { host: ctx.ref('Host', spec.host, 'spec.host') } : {}),
        ...(spec.haRestartPriority !== undefined ? { haRestartPriority: spec.haRestartPriority } : {}),
        ...(spec.autoPowerOn !== undefined ? { autoPowerOn: spec.autoPowerOn } : {}),
        ...(spec.appliance !== undefined ? { appliance: ctx.ref('VMAppliance', spec.appliance, 'spec.appliance') } : {}),
        tags: spec.tags ?? [],
        otherConfig: checkOtherConfig(spec.otherConfig, 'spec.otherConfig', ctx),
      },
    };
  },
};
