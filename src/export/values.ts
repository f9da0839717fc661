const UNITS: [string, number][] = [
  ['TiB', 1024 ** 4],
  ['GiB', 1024 ** 3],
  ['MiB', 1024 ** 2],
  ['KiB', 1024],
];

/**
 * A byte count as a manifest size: the largest binary unit that divides it exactly (`20GiB`), else
 * plain bytes. Exact, because the planner compares sizes to the byte (a rounded size would shrink a disk).
 */
export function formatSize(bytes: number): string | number {
  for (const [unit, factor] of UNITS) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return bytes;
}

/** Seconds as a manifest duration: `90s` reads as a duration where a bare 90 could be mistaken for minutes. */
export function formatDuration(seconds: number): string {
  return `${seconds}s`;
}

/**
 * other_config keys that XAPI, its installers and its tools write for themselves. They change on their
 * own (last_shutdown_time, boot_time), so declaring them would turn every such change into drift.
 */
const SYSTEM_KEYS = new Set([
  'agent_start_time', 'auto_poweron', 'automatic', 'base_template_name', 'boot_time', 'cpuid_feature_mask',
  'default_template', 'disks', 'i18n_key', 'i18n_original_value_name_description', 'i18n_original_value_name_label',
  'import_task', 'install-arch', 'install-distro', 'install-initrd', 'install-kernel', 'install-methods',
  'install-repository', 'instant', 'is_guest_installer_network', 'is_host_internal_management_network',
  'iscsi_iqn', 'last_shutdown_action', 'last_shutdown_initiator', 'last_shutdown_reason', 'last_shutdown_time',
  'linux_template', 'mac_seed', 'memory-ratio-hvm', 'memory-ratio-pv', 'pci', 'SRmaster', 'vgpu_pci',
  'xenserver_tools_sr',
]);

/** The other_config keys worth declaring: not xops' own marks, not keys XAPI maintains itself. */
export function declarableOtherConfig(otherConfig: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(otherConfig ?? {}).sort()) {
    if (key.startsWith('xops.') || SYSTEM_KEYS.has(key)) continue;
    out[key] = otherConfig![key]!;
  }
  return out;
}

/** Puts `value` under `key` only when it says something (non-empty string, list or map). */
export function setIfPresent(target: Record<string, unknown>, key: string, value: unknown): void {
  if (value === undefined || value === null || value === '') return;
  if (Array.isArray(value) && value.length === 0) return;
  if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0) return;
  target[key] = value;
}
