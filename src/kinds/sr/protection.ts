import type { XapiRecord } from '../../model/observed.js';
import { MANAGED_KEY } from '../../model/observed.js';

/**
 * The storage a host is installed with and xops did not make: its local lvm/ext SR and ISO
 * libraries. An SR xops created carries its mark and stays xops'.
 */
export function hostOwnedSR(sr: XapiRecord): { what: 'host-local SR' | 'ISO library'; why: string } | undefined {
  const otherConfig = (sr['other_config'] ?? {}) as Record<string, string>;
  if (otherConfig[MANAGED_KEY] !== undefined) return undefined;
  if (sr['shared'] === false && (sr['type'] === 'lvm' || sr['type'] === 'ext')) return { what: 'host-local SR', why: "it is a host's local SR (made by the installer, not by xops)" };
  if (sr['content_type'] === 'iso' && sr['type'] !== 'udev') return { what: 'ISO library', why: 'it is an ISO library xops did not create' };
  return undefined;
}

/** The SRs a host ships with: local storage, the tools ISO library, removable media (udev), ISO libraries. */
export function srProtection(_ctx: unknown, sr: XapiRecord): string | undefined {
  const otherConfig = (sr['other_config'] ?? {}) as Record<string, string>;
  if (sr['is_tools_sr'] === true || otherConfig['xenserver_tools_sr'] === 'true') return 'it is the tools SR the hosts ship with';
  if (sr['type'] === 'udev') return 'it is a removable-media SR of a host';
  return hostOwnedSR(sr)?.why;
}
