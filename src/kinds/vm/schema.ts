import type { DesiredVM, HaRestartPriority, PowerState } from '../../model/desired.js';
import type { BootDevice } from './desired.js';
import { parseCidr } from './readiness.js';
import { closedObject, documentSchema, ref } from '../../manifests/schema-kit.js';
import { checkOtherConfig, type KindDefinition } from '../../manifests/build-context.js';
import { decodeAttachments, isAttachmentEntry, type DiskEntry } from './attachments.js';
import { cloudInitSchema, decodeCloudInit, type CloudInitManifest } from './cloud-init.js';

interface VMSpec {
  nameLabel?: string;
  description?: string;
  template?: string;
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
  coresPerSocket?: number;
  nestedVirtualization?: boolean;
  videoRam?: number;
  boot?: { order?: BootDevice[]; firmware?: 'bios' | 'uefi'; secureBoot?: boolean };
  cpuCap?: number;
  cpuWeight?: number;
  blockedOperations?: string[];
  startDelay?: number | string;
  shutdownDelay?: number | string;
  xenstoreData?: Record<string, string>;
  suspendSR?: string;
  vtpm?: boolean;
  cdrom?: { iso?: string };
  readiness?: { waitForIP: string; timeout?: number | string };
  cloudInit?: CloudInitManifest;
  tags?: string[];
  otherConfig?: Record<string, string>;
}

/** XAPI's vm_operations a manifest may block (datamodel enum vm_operations; the common protective ones). */
export const BLOCKABLE_OPERATIONS = [
  'destroy', 'start', 'start_on', 'clean_shutdown', 'hard_shutdown', 'shutdown', 'clean_reboot', 'hard_reboot',
  'suspend', 'pause', 'pool_migrate', 'migrate_send', 'clone', 'copy', 'snapshot', 'checkpoint', 'revert', 'export',
  'make_into_template', 'changing_memory_live', 'changing_VCPUs_live',
] as const;

/** Seconds apply waits for `readiness.waitForIP` by default, and at most. */
export const DEFAULT_READINESS_TIMEOUT = 300;
export const MAX_READINESS_TIMEOUT = 3600;

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
        template: ref('reference', 'The template to install from: an existing template\'s name_label or uuid. Needed only to create the VM: a manifest for a VM that already exists (adopted, or written by xops export) may leave it out.'),
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
        coresPerSocket: { type: 'integer', minimum: 1, maximum: 256, description: 'platform:cores-per-socket; must divide vcpusMax. Takes effect at boot (a reboot when running).' },
        nestedVirtualization: { type: 'boolean', description: 'platform:nested-virt: expose hardware virtualisation to the guest. Takes effect at boot.' },
        videoRam: { type: 'integer', minimum: 1, maximum: 256, description: 'platform:videoram, MiB of emulated video memory. Takes effect at boot.' },
        boot: closedObject({
          order: { type: 'array', minItems: 1, maxItems: 3, uniqueItems: true, items: { enum: ['disk', 'cdrom', 'network'] }, description: 'Boot devices in order (HVM_boot_params order, e.g. [cdrom, disk] is "dc"). Read at the next boot.' },
          firmware: { enum: ['bios', 'uefi'], description: 'HVM_boot_params firmware. Takes effect at boot; an installed guest may not boot under the other firmware.' },
          secureBoot: { type: 'boolean', description: 'platform:secureboot; needs firmware uefi. Takes effect at boot.' },
        }, []),
        cpuCap: { type: 'integer', minimum: 0, maximum: 25600, description: 'VCPUs_params cap: percent of one physical CPU the VM may use (0: no cap). Applied live.' },
        cpuWeight: { type: 'integer', minimum: 1, maximum: 65535, description: 'VCPUs_params weight: CPU share relative to other VMs (XAPI default 256). Applied live.' },
        blockedOperations: { type: 'array', uniqueItems: true, maxItems: BLOCKABLE_OPERATIONS.length, items: { enum: [...BLOCKABLE_OPERATIONS] }, description: 'Operations XAPI refuses on this VM (blocked_operations), e.g. [destroy]. When declared, exactly these are blocked.' },
        startDelay: ref('duration', 'VM start_delay, for VMs outside an appliance (an appliance member\'s delay is set by its VMAppliance manifest).'),
        shutdownDelay: ref('duration', 'VM shutdown_delay, for VMs outside an appliance.'),
        xenstoreData: { type: 'object', maxProperties: 64, propertyNames: { pattern: '^vm-data(/[A-Za-z0-9_.-]+)+$', patternErrorMessage: 'must be a vm-data/... path' }, additionalProperties: { type: 'string', maxLength: 4096 }, description: 'xenstore_data keys (vm-data/...) the guest reads; only the listed keys are managed. The guest sees changes at its next boot.' },
        suspendSR: ref('reference', 'SR for the memory image when the VM is suspended (VM.suspend_SR).'),
        cdrom: closedObject({
          iso: { type: 'string', minLength: 1, maxLength: 255, description: 'name_label of a VDI on an ISO SR to insert (omit for an empty drive). Changing the disc is live.' },
        }, [], { description: 'A CD drive (VBD type CD, userdevice 3). Adding the drive to a running VM is a reboot.' }),
        vtpm: { type: 'boolean', description: 'A virtual TPM (VTPM). Attached only while the VM is halted (a reboot when running); removing it loses its keys.' },
        readiness: closedObject({
          waitForIP: { type: 'string', pattern: '^\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}$', patternErrorMessage: 'must be an IPv4 range like 10.0.0.0/24', description: 'After starting the VM, apply waits until its guest agent reports an address in this range (VM_guest_metrics.networks).' },
          timeout: ref('duration', `How long apply waits (default ${DEFAULT_READINESS_TIMEOUT}s, at most ${MAX_READINESS_TIMEOUT}s); then the action fails.`),
        }, ['waitForIP']),
        cloudInit: cloudInitSchema,
        tags: ref('tags'),
        otherConfig: ref('otherConfig'),
      },
      ['vcpus', 'memory'],
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
    if (spec.coresPerSocket !== undefined && vcpusMax % spec.coresPerSocket !== 0) {
      ctx.error('spec.coresPerSocket', `coresPerSocket (${spec.coresPerSocket}) must divide vcpusMax (${vcpusMax})`);
    }
    // XAPI boots secure boot only through UEFI firmware (varstored): with BIOS the flag means nothing.
    if (spec.boot?.secureBoot === true && spec.boot.firmware !== 'uefi') {
      ctx.error('spec.boot.secureBoot', 'secureBoot needs firmware: uefi');
    }
    for (const field of ['startDelay', 'shutdownDelay'] as const) {
      if (spec[field] !== undefined && spec.appliance !== undefined) {
        ctx.error(`spec.${field}`, `${field} of an appliance member is set by its VMAppliance manifest (members[].${field}): remove it here`);
      }
    }
    if (spec.readiness && !parseCidr(spec.readiness.waitForIP)) ctx.error('spec.readiness.waitForIP', `'${spec.readiness.waitForIP}' is not an IPv4 range (a.b.c.d/0-32)`);
    const readinessTimeout = spec.readiness?.timeout === undefined ? DEFAULT_READINESS_TIMEOUT : (ctx.duration(spec.readiness.timeout, 'spec.readiness.timeout') ?? DEFAULT_READINESS_TIMEOUT);
    if (readinessTimeout > MAX_READINESS_TIMEOUT || readinessTimeout < 1) ctx.error('spec.readiness.timeout', `the readiness timeout must be 1s to ${MAX_READINESS_TIMEOUT}s`);
    const seconds = (v: number | string | undefined, path: string) => (v === undefined ? undefined : ctx.duration(v, path));
    const startDelay = seconds(spec.startDelay, 'spec.startDelay');
    const cloudInit = spec.cloudInit === undefined ? undefined : decodeCloudInit(spec.cloudInit, meta.name, ctx);
    const shutdownDelay = seconds(spec.shutdownDelay, 'spec.shutdownDelay');
    return {
      kind: 'VM',
      meta,
      spec: {
        nameLabel: spec.nameLabel ?? meta.name,
        ...(spec.description !== undefined ? { description: spec.description } : {}),
        ...(spec.template !== undefined ? { template: ctx.ref('Template', spec.template, 'spec.template') } : {}),
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
        ...(spec.coresPerSocket !== undefined ? { coresPerSocket: spec.coresPerSocket } : {}),
        ...(spec.nestedVirtualization !== undefined ? { nestedVirtualization: spec.nestedVirtualization } : {}),
        ...(spec.videoRam !== undefined ? { videoRam: spec.videoRam } : {}),
        ...(spec.boot !== undefined ? { boot: { ...spec.boot } } : {}),
        ...(spec.cpuCap !== undefined ? { cpuCap: spec.cpuCap } : {}),
        ...(spec.cpuWeight !== undefined ? { cpuWeight: spec.cpuWeight } : {}),
        ...(spec.blockedOperations !== undefined ? { blockedOperations: [...spec.blockedOperations].sort() } : {}),
        ...(startDelay !== undefined ? { startDelay } : {}),
        ...(shutdownDelay !== undefined ? { shutdownDelay } : {}),
        ...(spec.xenstoreData !== undefined ? { xenstoreData: { ...spec.xenstoreData } } : {}),
        ...(spec.suspendSR !== undefined ? { suspendSR: ctx.ref('SR', spec.suspendSR, 'spec.suspendSR') } : {}),
        ...(spec.vtpm !== undefined ? { vtpm: spec.vtpm } : {}),
        ...(spec.cdrom !== undefined ? { cdrom: spec.cdrom.iso !== undefined ? { iso: spec.cdrom.iso } : {} } : {}),
        ...(spec.readiness !== undefined ? { readiness: { waitForIP: spec.readiness.waitForIP, timeout: readinessTimeout } } : {}),
        ...(cloudInit !== undefined ? { cloudInit } : {}),
        tags: spec.tags ?? [],
        otherConfig: checkOtherConfig(spec.otherConfig, 'spec.otherConfig', ctx),
      },
    };
  },
};
