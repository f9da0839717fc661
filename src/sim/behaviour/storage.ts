import type { Call, Handler } from '../core.js';
import type { SimDatabase } from '../database.js';
import { fail } from '../errors.js';
import { constructorFields } from '../generic.js';
import { NULL_REF, xapiDate } from '../ids.js';
import { allowedVbdDevices, assertValidVbdDevice, assertVbdOperation, diskNumberOf, linuxDeviceName, refreshDeviceOperations, usedDiskNumbers } from './devices.js';
import { GiB, adjustSr, createVbd, createVdi } from './objects.js';
import { resolveDeviceConfig } from './secret.js';
import { assertSpace, initialUtilisation, isThick, smFailure, vdiSizeFor } from './sm.js';

/**
 * SR types the simulator has a driver for, with the device_config keys each requires. A missing key fails the way
 * the SM backend reports it: SR_BACKEND_FAILURE_<n> ["", message, ""], using SM's error messages (the numbers
 * are SM's codes as far as known; clients should match on the SR_BACKEND_FAILURE_ prefix).
 */
const DRIVERS: Record<string, { required: [key: string, code: number, message: string][]; defaultSize: number; thick: boolean }> = {
  nfs: {
    required: [
      ['server', 37, 'The request is missing the server parameter'],
      ['serverpath', 38, 'The request is missing the serverpath parameter'],
    ],
    defaultSize: 2048 * GiB,
    thick: false,
  },
  smb: { required: [['server', 37, 'The request is missing the server parameter']], defaultSize: 1024 * GiB, thick: false },
  lvmoiscsi: {
    required: [
      ['target', 95, 'The request is missing or has an incorrect target parameter'],
      ['targetIQN', 96, 'The request is missing or has an incorrect target IQN parameter'],
      ['SCSIid', 107, 'The SCSIid parameter is missing or incorrect'],
    ],
    defaultSize: 1024 * GiB,
    thick: true,
  },
  lvm: { required: [['device', 15, 'The request is missing the device parameter']], defaultSize: 500 * GiB, thick: true },
  ext: { required: [['device', 15, 'The request is missing the device parameter']], defaultSize: 500 * GiB, thick: false },
  iso: { required: [['location', 222, 'The request is missing the location parameter']], defaultSize: 0, thick: false },
  udev: { required: [['location', 222, 'The request is missing the location parameter']], defaultSize: 0, thick: false },
};

function checkDeviceConfig(type: string, dc: Record<string, string>): void {
  const d = DRIVERS[type];
  if (!d) throw fail('SR_UNKNOWN_DRIVER', type);
  for (const [key, code, message] of d.required) {
    if (!dc[key]) throw fail(`SR_BACKEND_FAILURE_${code}`, '', message, '');
  }
}

/** True when a VDI of `sr` is attached to a VM resident on `host` (or on any host when host is undefined). */
function vdisInUse(db: SimDatabase, sr: string, host?: string): string[] {
  const out: string[] = [];
  for (const vdi of db.record(sr).VDIs as string[]) {
    for (const vbd of (db.get(vdi)?.rec.VBDs as string[]) ?? []) {
      const b = db.get(vbd)?.rec;
      if (!b?.currently_attached) continue;
      const vmHost = db.get(b.VM as string)?.rec.resident_on;
      if (host === undefined || vmHost === host) {
        out.push(vdi);
        break;
      }
    }
  }
  return out;
}

/** A VDI is busy while attached, or while its VM is suspended (the disk state belongs to the saved image). */
function vdiBusy(db: SimDatabase, vdi: string): boolean {
  for (const vbd of db.record(vdi).VBDs as string[]) {
    const b = db.get(vbd)?.rec;
    if (!b) continue;
    if (b.currently_attached) return true;
    const vm = db.get(b.VM as string)?.rec;
    if (vm && vm.power_state !== 'Halted') return true;
  }
  return false;
}

function destroyVdi(db: SimDatabase, vdi: string): void {
  const r = db.record(vdi);
  for (const vbd of [...(r.VBDs as string[])]) destroyVbd(db, vbd);
  adjustSr(db, r.SR as string, -(r.virtual_size as number), -(r.physical_utilisation as number));
  db.destroy(vdi);
}

function destroyVbd(db: SimDatabase, vbd: string): void {
  const m = db.get(vbd)?.rec.metrics as string | undefined;
  db.destroy(vbd);
  if (m && db.get(m)) db.destroy(m);
}

/**
 * XAPI's check_sm_feature_error: a VDI operation needs its SR driver's capability, else SR_OPERATION_NOT_SUPPORTED.
 * The drivers come from the pool's SM records (none of SM's own drivers has VDI_RESIZE_ONLINE).
 */
function assertSmFeature(db: SimDatabase, sr: string, feature: string): void {
  const type = db.record(sr).type;
  for (const sm of db.all('SM')) {
    if (sm.rec.type === type && Object.prototype.hasOwnProperty.call(sm.rec.features ?? {}, feature)) return;
  }
  throw fail('SR_OPERATION_NOT_SUPPORTED', sr);
}

/** VDI.resize and resize_online: no shrinking, SM's size rules, thick SRs must hold the growth. */
function resizeVdi(db: SimDatabase, vdi: string, requested: number): void {
  const r = db.record(vdi);
  const sr = r.SR as string;
  const old = r.virtual_size as number;
  if (requested < old) smFailure(79, 'VDI Invalid size', 'shrinking not allowed');
  const size = vdiSizeFor(db.record(sr), requested);
  if (size === old) return;
  const thick = isThick(db.record(sr));
  const grow = thick ? size - old : 0;
  assertSpace(db, sr, grow);
  db.update(vdi, { virtual_size: size, physical_utilisation: (r.physical_utilisation as number) + grow });
  adjustSr(db, sr, size - old, grow);
}

function forgetSr(c: Call, destroy: boolean): void {
  const sr = c.db.expect('SR', c.args[0]).ref;
  const r = c.db.record(sr);
  if ((r.other_config as Record<string, string>).indestructible === 'true') throw fail('SR_INDESTRUCTIBLE', sr);
  if ((r.PBDs as string[]).some((p) => c.db.get(p)?.rec.currently_attached)) throw fail('SR_HAS_PBD', sr);
  for (const pbd of [...(r.PBDs as string[])]) c.db.destroy(pbd);
  for (const vdi of [...(r.VDIs as string[])]) {
    if (destroy) destroyVdi(c.db, vdi);
    else {
      for (const vbd of [...(c.db.record(vdi).VBDs as string[])]) destroyVbd(c.db, vbd);
      c.db.destroy(vdi);
    }
  }
  c.db.destroy(sr);
}

function plugPbd(db: SimDatabase, pbd: string): void {
  const p = db.expect('PBD', pbd).rec;
  if (p.currently_attached) return;
  const sr = db.expect('SR', p.SR).rec;
  if (!DRIVERS[sr.type as string]) throw fail('SR_UNKNOWN_DRIVER', sr.type as string);
  resolveDeviceConfig(db, sr.type as string, p.device_config as Record<string, string>);
  if (!sr.shared) {
    for (const other of sr.PBDs as string[]) {
      const o = db.get(other)?.rec;
      if (other !== pbd && o?.currently_attached) throw fail('SR_NOT_SHARABLE', p.SR as string, o.host as string);
    }
  }
  db.set(pbd, 'currently_attached', true);
}

/** SR, PBD, VDI and VBD behaviour. */
export function storageHandlers(): Record<string, Handler> {
  return {
    'SR.create': (c) => {
      const [host, deviceConfig, physicalSize, nameLabel, nameDescription, type, contentType, shared, smConfig] = c.args as [
        string,
        Record<string, string>,
        number,
        string,
        string,
        string,
        string,
        boolean,
        Record<string, string>,
      ];
      c.db.expect('host', host);
      checkDeviceConfig(type, deviceConfig);
      resolveDeviceConfig(c.db, type, deviceConfig);
      const drv = DRIVERS[type]!;
      const sr = c.db.create('SR', {
        name_label: nameLabel,
        name_description: nameDescription,
        type,
        content_type: contentType,
        shared,
        physical_size: physicalSize > 0 ? physicalSize : drv.defaultSize,
        physical_utilisation: 0,
        virtual_allocation: 0,
        other_config: {},
        sm_config: { ...smConfig, ...(type === 'iso' ? {} : { allocation: drv.thick ? 'thick' : 'thin' }) },
        allowed_operations: ['vdi_create', 'vdi_destroy', 'vdi_resize', 'vdi_clone', 'vdi_snapshot', 'scan', 'update', 'plug', 'unplug', 'destroy', 'forget', 'pbd_create', 'pbd_destroy'],
      });
      const hosts = shared ? c.core.hostRefs() : [host];
      for (const h of hosts) {
        c.db.create('PBD', { host: h, SR: sr, device_config: { ...deviceConfig }, currently_attached: true, other_config: {} });
      }
      return sr;
    },
    'SR.introduce': (c) => {
      const [uuid, nameLabel, nameDescription, type, contentType, shared, smConfig] = c.args as [string, string, string, string, string, boolean, Record<string, string>];
      if (c.db.refByUuid('SR', uuid)) throw fail('SR_UUID_EXISTS', uuid);
      return c.db.create('SR', {
        uuid,
        name_label: nameLabel,
        name_description: nameDescription,
        type,
        content_type: contentType,
        shared,
        sm_config: smConfig,
        physical_size: 0,
        physical_utilisation: 0,
        virtual_allocation: 0,
        other_config: {},
      });
    },
    'SR.forget': (c) => forgetSr(c, false),
    'SR.destroy': (c) => forgetSr(c, true),
    'SR.scan': (c) => {
      c.db.expect('SR', c.args[0]);
    },
    'SR.update': (c) => {
      c.db.expect('SR', c.args[0]);
    },

    'PBD.create': (c) => {
      const fields = constructorFields(c.db, c.db.classOf('PBD'), c.args[0] as Record<string, unknown>);
      const dc = (fields.device_config ?? {}) as Record<string, string>;
      if ('SRmaster' in dc) throw fail('VALUE_NOT_SUPPORTED', 'SRmaster', dc.SRmaster ?? '', 'This key is for internal use only');
      for (const p of c.db.record(fields.SR as string).PBDs as string[]) {
        if (c.db.get(p)?.rec.host === fields.host) throw fail('PBD_EXISTS', fields.SR as string, fields.host as string, p);
      }
      return c.db.create('PBD', { ...fields, currently_attached: false });
    },
    'PBD.destroy': (c) => {
      const pbd = c.db.expect('PBD', c.args[0]);
      if (pbd.rec.currently_attached) throw fail('OPERATION_NOT_ALLOWED', 'PBD is currently attached');
      c.db.destroy(pbd.ref);
    },
    'PBD.plug': (c) => plugPbd(c.db, c.db.expect('PBD', c.args[0]).ref),
    'PBD.unplug': (c) => {
      const pbd = c.db.expect('PBD', c.args[0]);
      if (!pbd.rec.currently_attached) return;
      const busy = vdisInUse(c.db, pbd.rec.SR as string, pbd.rec.host as string);
      if (busy.length > 0) throw fail('VDI_IN_USE', ...busy);
      c.db.set(pbd.ref, 'currently_attached', false);
    },

    'VDI.create': (c) => {
      const fields = constructorFields(c.db, c.db.classOf('VDI'), c.args[0] as Record<string, unknown>);
      const sr = c.db.expect('SR', fields.SR).ref;
      const size = vdiSizeFor(c.db.record(sr), fields.virtual_size as number);
      assertSpace(c.db, sr, initialUtilisation(c.db.record(sr), size));
      const { SR: _sr, virtual_size: _size, name_label, type, sharable, read_only, other_config, sm_config, ...rest } = fields;
      const vdi = createVdi(c.db, {
        sr,
        name_label: (name_label as string) ?? '',
        virtual_size: size,
        type: type as string,
        sharable: sharable as boolean,
        read_only: read_only as boolean,
        other_config: other_config as Record<string, string>,
        sm_config: (sm_config as Record<string, string>) ?? {},
      });
      if (Object.keys(rest).length > 0) c.db.update(vdi, rest);
      return vdi;
    },
    'VDI.destroy': (c) => {
      const vdi = c.db.expect('VDI', c.args[0]).ref;
      if (vdiBusy(c.db, vdi)) throw fail('VDI_IN_USE', vdi, 'destroy');
      destroyVdi(c.db, vdi);
    },
    'VDI.forget': (c) => {
      const vdi = c.db.expect('VDI', c.args[0]).ref;
      if (vdiBusy(c.db, vdi)) throw fail('VDI_IN_USE', vdi, 'forget');
      destroyVdi(c.db, vdi);
    },
    'VDI.resize': (c) => {
      const vdi = c.db.expect('VDI', c.args[0]);
      if (vdiBusy(c.db, vdi.ref)) throw fail('VDI_IN_USE', vdi.ref, 'resize');
      resizeVdi(c.db, vdi.ref, c.args[1] as number);
    },
    'VDI.resize_online': (c) => {
      const vdi = c.db.expect('VDI', c.args[0]);
      assertSmFeature(c.db, vdi.rec.SR as string, 'VDI_RESIZE_ONLINE');
      resizeVdi(c.db, vdi.ref, c.args[1] as number);
    },
    'VDI.copy': (c) => {
      const src = c.db.expect('VDI', c.args[0]).rec;
      const sr = c.db.expect('SR', c.args[1]).ref;
      assertSpace(c.db, sr, initialUtilisation(c.db.record(sr), src.virtual_size as number));
      return createVdi(c.db, { sr, name_label: src.name_label as string, virtual_size: src.virtual_size as number, type: src.type as string, other_config: {} });
    },
    'VDI.clone': (c) => {
      const src = c.db.expect('VDI', c.args[0]).rec;
      assertSpace(c.db, src.SR as string, initialUtilisation(c.db.record(src.SR as string), src.virtual_size as number));
      return createVdi(c.db, { sr: src.SR as string, name_label: src.name_label as string, virtual_size: src.virtual_size as number, type: src.type as string, other_config: {} });
    },
    'VDI.snapshot': (c) => {
      const vdi = c.db.expect('VDI', c.args[0]);
      const src = vdi.rec;
      assertSpace(c.db, src.SR as string, initialUtilisation(c.db.record(src.SR as string), src.virtual_size as number));
      const snap = createVdi(c.db, { sr: src.SR as string, name_label: src.name_label as string, virtual_size: src.virtual_size as number, type: src.type as string, other_config: {} });
      c.db.update(snap, { is_a_snapshot: true, snapshot_of: vdi.ref, snapshot_time: xapiDate() });
      return snap;
    },

    'VBD.create': (c) => {
      const fields = constructorFields(c.db, c.db.classOf('VBD'), c.args[0] as Record<string, unknown>);
      const vmRef = fields.VM as string;
      let userdevice = String(fields.userdevice);
      assertValidVbdDevice(userdevice);
      const used = usedDiskNumbers(c.db, vmRef);
      if (userdevice === 'autodetect') {
        const free = allowedVbdDevices(c.db, vmRef)[0];
        if (free === undefined) throw fail('INVALID_DEVICE', 'autodetect');
        userdevice = free;
      } else {
        // XAPI compares every reading of the name ("1", "xvdb", "hdb" are one disk) with those in use.
        const n = diskNumberOf(userdevice);
        if (n !== undefined && used.has(n)) throw fail('DEVICE_ALREADY_EXISTS', userdevice);
      }
      const vbd = createVbd(c.db, {
        vm: fields.VM as string,
        vdi: (fields.VDI as string) ?? NULL_REF,
        userdevice,
        bootable: fields.bootable as boolean,
        type: fields.type as 'Disk',
        mode: fields.mode as 'RW',
        empty: fields.empty as boolean,
        unpluggable: (fields.unpluggable as boolean) ?? true,
        other_config: fields.other_config as Record<string, string>,
      });
      // A VBD made through the API starts unplugged, even on a running VM: VBD.plug attaches it.
      c.db.update(vbd, {
        currently_attached: false,
        device: '',
        qos_algorithm_type: fields.qos_algorithm_type ?? '',
        qos_algorithm_params: fields.qos_algorithm_params ?? {},
      });
      refreshDeviceOperations(c.db, vmRef);
      return vbd;
    },
    'VBD.destroy': (c) => {
      const vbd = c.db.expect('VBD', c.args[0]);
      if (vbd.rec.currently_attached) throw fail('DEVICE_ALREADY_ATTACHED', vbd.ref);
      destroyVbd(c.db, vbd.ref);
    },
    'VBD.plug': (c) => {
      const vbd = c.db.expect('VBD', c.args[0]);
      assertVbdOperation(c.db, vbd.ref, 'plug');
      c.db.update(vbd.ref, { currently_attached: true, device: linuxDeviceName(diskNumberOf(String(vbd.rec.userdevice)) ?? 0) });
      refreshDeviceOperations(c.db, vbd.rec.VM as string);
    },
    'VBD.unplug': (c) => unplugVbd(c.db, c.db.expect('VBD', c.args[0]).ref),
    'VBD.unplug_force': (c) => unplugVbd(c.db, c.db.expect('VBD', c.args[0]).ref, true),
    'VBD.eject': (c) => {
      const vbd = c.db.expect('VBD', c.args[0]);
      assertVbdOperation(c.db, vbd.ref, 'eject');
      c.db.update(vbd.ref, { empty: true, VDI: NULL_REF });
      refreshDeviceOperations(c.db, vbd.rec.VM as string);
    },
    'VBD.insert': (c) => {
      const vbd = c.db.expect('VBD', c.args[0]);
      const vdi = c.db.expect('VDI', c.args[1]).ref;
      assertVbdOperation(c.db, vbd.ref, 'insert');
      c.db.update(vbd.ref, { empty: false, VDI: vdi });
      refreshDeviceOperations(c.db, vbd.rec.VM as string);
    },
  };
}

function unplugVbd(db: SimDatabase, vbd: string, force = false): void {
  assertVbdOperation(db, vbd, force ? 'unplug_force' : 'unplug');
  db.set(vbd, 'currently_attached', false);
  refreshDeviceOperations(db, db.record(vbd).VM as string);
}
