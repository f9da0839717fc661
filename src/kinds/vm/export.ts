import { isConfigDrive } from './cloud-init.js';
import type { Ref, VBDRecord, VDIRecord, VIFRecord, VMRecord } from '../../model/observed.js';
import { DISK_KEY, NULL_REF, VIF_KEY } from '../../model/observed.js';
import type { Candidate, Chosen, ExportContext } from '../../export/context.js';
import { alreadyManaged, countSkipped, referenceTo } from '../../export/context.js';
import type { ExportNote } from '../../export/notes.js';
import { declarableOtherConfig, formatDuration, formatSize, setIfPresent } from '../../export/values.js';
import { BLOCKABLE_OPERATIONS } from './schema.js';
import { bootOrderDevices, blockedOperationsOf } from './settings.js';
import type { KindExporter } from '../../export/manifest-doc.js';
import { manifestDoc, nameLabelSpec } from '../../export/manifest-doc.js';
import { exportedAttachments, isExportedDisk } from './attachments.js';
import { findOrigin, templateLookup, type TemplateLookup } from './template-origin.js';

/** The VM kind's disk name pattern (`./schema.ts`). */
const DISK_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
const HA_PRIORITIES = ['restart', 'best-effort'];

interface DiskEntry {
  name: string;
  size: string | number;
  sr?: string;
}

/** A disk as the manifest lists it, or why it could not be listed. */
type ExportedDisk = { listed: true; entry: DiskEntry } | { listed: false; entry: DiskEntry; vdi: VDIRecord; vbd: VBDRecord; rename: string };

/** A disk name for a VDI whose label does not follow `<vm>-<disk>`: what is left of the label once the VM's name is taken off. */
function suggestDiskName(vm: VMRecord, vdi: VDIRecord, vbd: VBDRecord, used: Set<string>): string {
  let label = vdi.name_label ?? '';
  if (label.toLowerCase().startsWith(vm.name_label.toLowerCase())) label = label.slice(vm.name_label.length);
  let base = label.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '').slice(0, 32).replace(/[^a-z0-9]+$/, '');
  if (!DISK_NAME.test(base)) base = `disk${vbd.userdevice}`;
  let name = base;
  for (let n = 2; used.has(name); n++) name = `${base.slice(0, 30)}-${n}`;
  return name;
}

/**
 * The VM's disks in device order, as the planner will match them: by the `xops.disk` mark, by the
 * VDI's name_label `<vm>-<disk>`, or else by position (the disk listed i-th is the one at
 * userdevice i). A disk of the last kind that follows a gap in the userdevices cannot sit at its
 * position in the list: it is left out (listing it would make the planner create a second disk).
 */
function exportDisks(ctx: ExportContext, chosen: Chosen<'VM'>): ExportedDisk[] {
  const vm = chosen.record;
  const vbds = (vm.VBDs ?? [])
    .map((ref: Ref) => ctx.index.get('VBD', ref))
    .filter((v): v is VBDRecord => v !== undefined && v.type === 'Disk' && !v.empty)
    .sort((a, b) => Number(a.userdevice) - Number(b.userdevice));
  const used = new Set<string>();
  const prefix = `${chosen.name}-`;
  const found: { vbd: VBDRecord; vdi: VDIRecord; name?: string }[] = [];
  for (const vbd of vbds) {
    const vdi = ctx.index.get('VDI', vbd.VDI);
    // The cloud-init config drive is written from the manifest's cloudInit, never a disk of its own.
    if (!vdi || isExportedDisk(ctx, vbd.VDI) || isConfigDrive(vdi.other_config)) continue;
    const marked = vdi.other_config?.[DISK_KEY];
    const byLabel = vdi.name_label.startsWith(prefix) ? vdi.name_label.slice(prefix.length) : undefined;
    const name = marked ?? byLabel;
    if (name !== undefined && DISK_NAME.test(name) && !used.has(name)) {
      used.add(name);
      found.push({ vbd, vdi, name });
    } else found.push({ vbd, vdi });
  }
  const out: ExportedDisk[] = [];
  let listed = 0;
  for (const { vbd, vdi, name } of found) {
    if (name !== undefined) {
      out.push({ listed: true, entry: diskEntry(ctx, name, vdi) });
      listed++;
      continue;
    }
    // Suggested names are picked after the recognised ones so that they never collide with them.
    const suggested = suggestDiskName(vm, vdi, vbd, used);
    used.add(suggested);
    if (vbd.userdevice === String(listed)) {
      out.push({ listed: true, entry: diskEntry(ctx, suggested, vdi) });
      listed++;
    } else out.push({ listed: false, entry: diskEntry(ctx, suggested, vdi), vdi, vbd, rename: `${chosen.name}-${suggested}` });
  }
  return out;
}

function diskEntry(ctx: ExportContext, name: string, vdi: VDIRecord): DiskEntry {
  // The SR is always written: "the pool's default SR" is a different SR once the default changes.
  const sr = vdi.SR && vdi.SR !== NULL_REF ? referenceTo(ctx, 'SR', vdi.SR) : undefined;
  return { name, size: formatSize(vdi.virtual_size), ...(sr ? { sr } : {}) };
}

/**
 * The VIFs in `networks` order. The planner matches a VIF it did not create to the entry whose index
 * is its device number, so entries must run 0, 1, 2... without gaps; VIFs past a gap are reported.
 */
function exportVifs(ctx: ExportContext, vm: VMRecord): { entries: Record<string, unknown>[]; unlisted: VIFRecord[] } {
  const byIndex = new Map<number, VIFRecord>();
  const unmarked: VIFRecord[] = [];
  for (const ref of vm.VIFs ?? []) {
    const vif = ctx.index.get('VIF', ref);
    if (!vif) continue;
    const key = vif.other_config?.[VIF_KEY];
    if (key !== undefined && /^\d+$/.test(key)) byIndex.set(Number(key), vif);
    else unmarked.push(vif);
  }
  const unlisted: VIFRecord[] = [];
  for (const vif of unmarked) {
    const index = Number(vif.device);
    if (/^\d+$/.test(vif.device) && !byIndex.has(index)) byIndex.set(index, vif);
    else unlisted.push(vif);
  }
  const entries: Record<string, unknown>[] = [];
  for (let i = 0; byIndex.has(i); i++) {
    const vif = byIndex.get(i)!;
    byIndex.delete(i);
    const network = referenceTo(ctx, 'network', vif.network) ?? vif.network;
    entries.push({ network, ...(vif.MAC ? { mac: vif.MAC.toLowerCase() } : {}) });
  }
  unlisted.push(...byIndex.values());
  return { entries, unlisted };
}

/** The pool's templates, indexed once per export (keyed by its context). */
const templatesOf = new WeakMap<ExportContext, TemplateLookup>();

/** What a manifest without a template line means: the note and the file's closing comment say it. */
const NO_TEMPLATE = 'a template is needed only to create this VM again (should it be deleted): add `template: NAME` (a template\'s name_label or uuid) before that';

/**
 * The template reference to write (its name_label, or its uuid when the name is shared), from what
 * XAPI recorded (template-origin.ts); undefined, with an info note saying why, when that leaves any
 * doubt: a guess would be worse than nothing, as a different template would plan a replace.
 */
function templateOf(ctx: ExportContext, vm: VMRecord, note: (n: Omit<ExportNote, 'file' | 'address'>) => void): { template: string } | { why: string } {
  let templates = templatesOf.get(ctx);
  if (!templates) templatesOf.set(ctx, (templates = templateLookup(ctx.observed.records.VM)));
  const origin = findOrigin(vm, templates);
  if (origin.found) {
    const [, tpl] = origin.found;
    return { template: templates.named(tpl.name_label).length === 1 ? tpl.name_label : tpl.uuid };
  }
  const base = origin.baseName;
  const uuids = origin.candidates.map(([, t]) => t.uuid).join(', ');
  const why = origin.why === 'unrecorded'
    ? 'XAPI recorded no template for this VM (no base_template_name, no reference_label)'
    : origin.why === 'gone'
      ? `the VM was installed from '${base}', which is no longer a template in this pool, and no template has its reference_label`
      : base !== undefined
        ? `the VM was installed from '${base}', and ${origin.candidates.length} templates could be it (${uuids})`
        : `${origin.candidates.length} templates share the VM's reference_label '${vm.reference_label}' (${uuids})`;
  note({ severity: 'info', code: 'template-unknown', path: 'spec.template', message: `${why}: not written; ${NO_TEMPLATE}` });
  return { why };
}

/**
 * Real VMs: not templates, snapshots or control domains (those are XAPI's, counted as skipped), and
 * not VMs xops manages already.
 */
export const vmExporter: KindExporter<'VM'> = {
  kind: 'VM',
  cls: 'VM',
  folder: 'vms',
  select(ctx) {
    const out: Candidate<'VM'>[] = [];
    for (const [ref, record] of ctx.observed.records.VM) {
      if (record.is_control_domain) countSkipped(ctx, 'control domain');
      else if (record.is_a_snapshot) countSkipped(ctx, 'snapshot');
      else if (record.is_a_template) countSkipped(ctx, 'template');
      else if (!alreadyManaged(ctx, 'VM', record)) out.push({ cls: 'VM', ref, record });
    }
    return out;
  },
  build(ctx, chosen) {
    const rec = chosen.record;
    const address = `VM/${chosen.name}`;
    const notes: ExportNote[] = [];
    const note = (n: Omit<ExportNote, 'file' | 'address'>) => notes.push({ ...n, file: chosen.file, address });
    const spec: Record<string, unknown> = { ...nameLabelSpec(chosen) };
    setIfPresent(spec, 'description', rec.name_description);
    const template = templateOf(ctx, rec, note);
    if ('template' in template) spec.template = template.template;
    spec.vcpus = rec.VCPUs_at_startup;
    if (rec.VCPUs_max !== rec.VCPUs_at_startup) spec.vcpusMax = rec.VCPUs_max;
    spec.memory = formatSize(rec.memory_dynamic_max);
    if (rec.memory_static_max !== rec.memory_dynamic_max) spec.memoryMax = formatSize(rec.memory_static_max);
    if (rec.memory_dynamic_min !== rec.memory_dynamic_max) {
      note({
        severity: 'warning', code: 'dynamic-memory', path: 'spec.memory',
        message: `the VM balloons between ${formatSize(rec.memory_dynamic_min)} and ${formatSize(rec.memory_dynamic_max)}; xops keeps dynamic min = max = memory, so the first apply raises dynamic_min to ${formatSize(rec.memory_dynamic_max)} (a live change)`,
      });
    }
    const disks = exportDisks(ctx, chosen);
    setIfPresent(spec, 'disks', [...disks.filter((d) => d.listed).map((d) => d.entry), ...exportedAttachments(ctx, rec)]);
    const vifs = exportVifs(ctx, rec);
    setIfPresent(spec, 'networks', vifs.entries);
    for (const vif of vifs.unlisted) {
      note({ severity: 'warning', code: 'vif-unlisted', path: 'spec.networks', message: `VIF device ${vif.device} (${vif.MAC}) follows a gap in the device numbers, so xops cannot match it to a networks entry: not listed, and left alone` });
    }
    spec.powerState = rec.power_state.toLowerCase();
    if (rec.affinity && rec.affinity !== NULL_REF) setIfPresent(spec, 'host', referenceTo(ctx, 'host', rec.affinity));
    if (HA_PRIORITIES.includes(rec.ha_restart_priority)) spec.haRestartPriority = rec.ha_restart_priority;
    else if (rec.ha_restart_priority) {
      note({ severity: 'info', code: 'ha-priority', path: 'spec.haRestartPriority', message: `HA restart priority '${rec.ha_restart_priority}' has no manifest equivalent (restart, best-effort): not declared` });
    }
    if (rec.other_config?.['auto_poweron'] === 'true') spec.autoPowerOn = true;
    exportSettings(ctx, rec, spec, note);
    setIfPresent(spec, 'tags', [...(rec.tags ?? [])].sort());
    if (ctx.otherConfig) setIfPresent(spec, 'otherConfig', declarableOtherConfig(rec.other_config));

    const doc = manifestDoc(chosen, spec);
    if ('why' in template) doc.trailer.push(`No template: ${template.why}. ${NO_TEMPLATE[0]!.toUpperCase()}${NO_TEMPLATE.slice(1)}.`);
    addUnlistedDisks(disks, note);
    ctx.notes.push(...notes);
    return doc;
  },
};

const XAPI_DEFAULT_ORDER = 'cdn';
const XAPI_DEFAULT_WEIGHT = '256';
const XENSTORE_KEY = /^vm-data(\/[A-Za-z0-9_.-]+)+$/;

/**
 * The platform, boot and scheduling settings that differ from XAPI's defaults (a default is left
 * out: the planner compares only what a manifest declares, so leaving it out changes nothing).
 */
function exportSettings(ctx: ExportContext, rec: VMRecord, spec: Record<string, unknown>, note: (n: Omit<ExportNote, 'file' | 'address'>) => void): void {
  const platform = rec.platform ?? {};
  const intIn = (v: string | undefined, max: number) => (v !== undefined && /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= max ? Number(v) : undefined);
  const cores = intIn(platform['cores-per-socket'], 256);
  if (cores !== undefined && rec.VCPUs_max % cores === 0) spec.coresPerSocket = cores;
  if ((platform['nested-virt'] ?? platform['exp-nested-hvm']) === 'true') spec.nestedVirtualization = true;
  const video = intIn(platform['videoram'], 256);
  if (video !== undefined) spec.videoRam = video;
  const boot: Record<string, unknown> = {};
  const order = rec.HVM_boot_params?.['order'];
  if (order !== undefined && order !== XAPI_DEFAULT_ORDER) {
    const devices = bootOrderDevices(order);
    if (devices) boot.order = devices;
    else note({ severity: 'info', code: 'boot-order', path: 'spec.boot.order', message: `boot order '${order}' uses devices a manifest cannot name (disk c, cdrom d, network n): not declared` });
  }
  if (rec.HVM_boot_params?.['firmware'] === 'uefi') boot.firmware = 'uefi';
  if (platform['secureboot'] === 'true' && boot.firmware === 'uefi') boot.secureBoot = true;
  if (Object.keys(boot).length > 0) spec.boot = boot;
  const cap = intIn(rec.VCPUs_params?.['cap'], 25600);
  if (cap !== undefined) spec.cpuCap = cap;
  const weight = rec.VCPUs_params?.['weight'];
  if (weight !== undefined && weight !== XAPI_DEFAULT_WEIGHT && intIn(weight, 65535) !== undefined) spec.cpuWeight = Number(weight);
  const blocked = blockedOperationsOf(rec);
  const known = blocked.filter((op) => (BLOCKABLE_OPERATIONS as readonly string[]).includes(op));
  if (known.length > 0) spec.blockedOperations = known;
  if (known.length < blocked.length) {
    note({ severity: 'info', code: 'blocked-operations', path: 'spec.blockedOperations', message: `blocked operations ${blocked.filter((op) => !known.includes(op)).join(', ')} cannot be declared: not listed (and a declared list would unblock them)` });
    delete spec.blockedOperations;
  }
  // An appliance member's delays are written by its VMAppliance manifest.
  if (!rec.appliance || rec.appliance === NULL_REF) {
    if (Number(rec.start_delay) > 0) spec.startDelay = formatDuration(Number(rec.start_delay));
    if (Number(rec.shutdown_delay) > 0) spec.shutdownDelay = formatDuration(Number(rec.shutdown_delay));
  }
  const xs = Object.fromEntries(Object.entries(rec.xenstore_data ?? {}).filter(([k]) => XENSTORE_KEY.test(k)).sort(([a], [b]) => a.localeCompare(b)));
  if (Object.keys(xs).length > 0) spec.xenstoreData = xs;
  if ((rec.VTPMs ?? []).length > 0) spec.vtpm = true;
  const drive = (rec.VBDs ?? []).map((r) => ctx.index.get('VBD', r)).find((v) => v?.type === 'CD');
  if (drive) {
    const disc = drive.empty ? undefined : ctx.index.get('VDI', drive.VDI);
    if (!disc) spec.cdrom = {};
    else if (ctx.index.get('SR', disc.SR)?.content_type === 'iso' && ctx.index.byName('VDI', disc.name_label).length === 1) spec.cdrom = { iso: disc.name_label };
    else note({ severity: 'info', code: 'cdrom', path: 'spec.cdrom', message: `the CD drive holds '${disc.name_label}', which is not a uniquely named ISO on an ISO SR: the drive is not declared (xops leaves it alone)` });
  }
  if (rec.suspend_SR && rec.suspend_SR !== NULL_REF) setIfPresent(spec, 'suspendSR', referenceTo(ctx, 'SR', rec.suspend_SR));
}

/** A disk past a gap in the userdevices is left out, with the rename that would let xops recognise it. */
function addUnlistedDisks(disks: ExportedDisk[], note: (n: Omit<ExportNote, 'file' | 'address'>) => void): void {
  for (const d of disks) {
    if (d.listed) continue;
    note({
      severity: 'warning', code: 'disk-unlisted', path: 'spec.disks',
      message: `disk VDI '${d.vdi.name_label}' (${formatSize(d.vdi.virtual_size)}) is at userdevice ${d.vbd.userdevice}, after a gap in the device numbers, so xops cannot match it to a disks entry: not listed, and left alone (to declare it, rename the VDI to '${d.rename}': xe vdi-param-set uuid=${d.vdi.uuid} name-label=${d.rename})`,
    });
  }
}
