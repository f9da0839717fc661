/**
 * Classes the datamodel facts in `classes.generated.ts` do not carry yet, written out by hand from
 * xen-api `ocaml/idl/datamodel.ml` (module VMSS) in the same compact form (see ./classes.ts). Keep them
 * here, not in the generated file, so re-running the emitter does not drop them.
 */
import type { RawClass } from './classes.js';

export const EXTRA_CLASSES: readonly RawClass[] = [
  {
    name: 'VMSS', flags: 'ed', generated: ['get_record', 'get_by_uuid', 'get_by_name_label', 'get_all', 'get_all_records', 'get_all_where', 'get_all_records_where'],
    fields: [
      ['uuid', 'string', 'r'],
      ['name_label', 'string', 'w'],
      ['name_description', 'string', 'w'],
      ['enabled', 'bool', 'w', true],
      ['type', 'enum vmss_type', 'c'],
      ['retained_snapshots', 'int', 'c', 7],
      ['frequency', 'enum vmss_frequency', 'c'],
      ['schedule', '(string -> string) map', 'c', {}],
      ['last_run_time', 'datetime', 'r', '19700101T00:00:00Z'],
      ['VMs', 'VM ref set', 'r'],
    ],
    messages: [
      ['create', [['args', 'VMSS record']], 'VMSS ref', 'ag'],
      ['destroy', [['self', 'VMSS ref']], '', 'ag'],
      ['snapshot_now', [['vmss', 'VMSS ref']], 'string', ''],
      ['set_retained_snapshots', [['self', 'VMSS ref'], ['value', 'int']], '', ''],
      ['set_frequency', [['self', 'VMSS ref'], ['value', 'enum vmss_frequency']], '', ''],
      ['set_schedule', [['self', 'VMSS ref'], ['value', '(string -> string) map']], '', ''],
      ['add_to_schedule', [['self', 'VMSS ref'], ['key', 'string'], ['value', 'string']], '', ''],
      ['remove_from_schedule', [['self', 'VMSS ref'], ['key', 'string']], '', ''],
      ['set_last_run_time', [['self', 'VMSS ref'], ['value', 'datetime']], '', ''],
      ['set_type', [['self', 'VMSS ref'], ['value', 'enum vmss_type']], '', ''],
    ],
  },
  {
    // xen-api ocaml/idl/datamodel_vm_group.ml (XCP-ng 8.3, XenServer 8).
    name: 'VM_group', flags: 'ed', generated: ['get_record', 'get_by_uuid', 'get_by_name_label', 'get_all', 'get_all_records', 'get_all_where', 'get_all_records_where'],
    fields: [
      ['uuid', 'string', 'r'],
      ['name_label', 'string', 'w'],
      ['name_description', 'string', 'w'],
      ['placement', 'enum placement_policy', 'c', 'normal'],
      ['VMs', 'VM ref set', 'r'],
    ],
    messages: [
      ['create', [['args', 'VM_group record']], 'VM_group ref', 'ag'],
      ['destroy', [['self', 'VM_group ref']], '', 'ag'],
    ],
  },
];

/** Enums of the extra classes (xen-api `datamodel.ml`, VMSS `type'` and `frequency`). */
export const EXTRA_ENUMS: Readonly<Record<string, readonly string[]>> = {
  vmss_type: ['snapshot', 'checkpoint', 'snapshot_with_quiesce'],
  vmss_frequency: ['hourly', 'daily', 'weekly'],
  placement_policy: ['anti_affinity', 'normal'],
};
