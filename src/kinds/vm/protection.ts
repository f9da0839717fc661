import type { XapiRecord } from '../../model/observed.js';

/** Control domains, templates and snapshots are XAPI's: xops manages plain VMs only. */
export function vmProtection(_ctx: unknown, vm: XapiRecord): string | undefined {
  if (vm['is_control_domain'] === true) return 'it is a control domain (dom0)';
  if (vm['is_a_template'] === true) return 'it is a template';
  if (vm['is_a_snapshot'] === true) return 'it is a snapshot';
  return undefined;
}
