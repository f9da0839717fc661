import type { ObservedClass, XapiRecord } from '../model/observed.js';

/**
 * Which fields of the observed classes hold XAPI `int`s (from datamodel.json). XML-RPC sends ints as
 * untyped values, i.e. strings; JSON-RPC sends numbers. Records are normalised to JS numbers so the
 * planner sees the same thing whatever the transport.
 */
interface IntFields {
  ints: readonly string[];
  intSets: readonly string[];
  /** `(int -> int) map`: keys stay strings (map keys always are), values become numbers. */
  intMaps: readonly string[];
}

const INT_FIELDS: Record<ObservedClass, IntFields> = {
  pool: {
    ints: ['ha_host_failures_to_tolerate', 'ha_plan_exists_for', 'local_auth_max_threads', 'ext_auth_max_threads',
      'ext_auth_cache_size', 'ext_auth_cache_expiry', 'update_sync_day', 'vm_console_idle_timeout'],
    intSets: [],
    intMaps: [],
  },
  host: {
    ints: ['memory_overhead', 'API_version_major', 'API_version_minor', 'ssh_enabled_timeout', 'console_idle_timeout'],
    intSets: ['virtual_hardware_platform_versions'],
    intMaps: [],
  },
  host_metrics: { ints: ['memory_total', 'memory_free'], intSets: [], intMaps: [] },
  network: { ints: ['MTU'], intSets: [], intMaps: [] },
  PIF: { ints: ['MTU', 'VLAN'], intSets: [], intMaps: [] },
  VLAN: { ints: ['tag'], intSets: [], intMaps: [] },
  Bond: { ints: ['links_up'], intSets: [], intMaps: [] },
  SR: { ints: ['virtual_allocation', 'physical_utilisation', 'physical_size'], intSets: [], intMaps: [] },
  PBD: { ints: [], intSets: [], intMaps: [] },
  VDI: { ints: ['virtual_size', 'physical_utilisation'], intSets: [], intMaps: [] },
  VBD: { ints: ['status_code'], intSets: [], intMaps: [] },
  VM: {
    ints: ['user_version', 'memory_overhead', 'memory_target', 'memory_static_max', 'memory_dynamic_max',
      'memory_dynamic_min', 'memory_static_min', 'VCPUs_max', 'VCPUs_at_startup', 'domid', 'start_delay',
      'shutdown_delay', 'order', 'version', 'hardware_platform_version'],
    intSets: [],
    intMaps: [],
  },
  VIF: { ints: ['MTU', 'status_code'], intSets: ['trunks'], intMaps: [] },
  VM_appliance: { ints: [], intSets: [], intMaps: [] },
  VMSS: { ints: ['retained_snapshots'], intSets: [], intMaps: [] },
  VM_group: { ints: [], intSets: [], intMaps: [] },
  VM_metrics: { ints: ['memory_actual', 'VCPUs_number', 'numa_nodes'], intSets: [], intMaps: ['VCPUs_CPU', 'numa_node_memory'] },
  VM_guest_metrics: { ints: [], intSets: [], intMaps: [] },
  PIF_metrics: { ints: ['speed'], intSets: [], intMaps: [] },
};

const DECIMAL = /^-?\d+$/;

/** An XAPI int as a JS number; a decimal string too large for a double stays a string, exact. */
export function decodeInt(value: unknown): unknown {
  if (typeof value !== 'string' || !DECIMAL.test(value)) return value;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
}

/**
 * Normalises one record of an observed class in place (it is fresh from the decoder, nobody else
 * holds it) and returns it. Only the int fields are touched, so this stays cheap at 10k VMs.
 */
export function decodeRecord<R extends XapiRecord>(cls: ObservedClass, rec: R): R {
  const spec = INT_FIELDS[cls];
  const r = rec as Record<string, unknown>;
  for (const f of spec.ints) {
    const v = r[f];
    if (typeof v === 'string') r[f] = decodeInt(v);
  }
  for (const f of spec.intSets) {
    const v = r[f];
    if (Array.isArray(v)) r[f] = v.map(decodeInt);
  }
  for (const f of spec.intMaps) {
    const v = r[f];
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = decodeInt(x);
      r[f] = out;
    }
  }
  return rec;
}
