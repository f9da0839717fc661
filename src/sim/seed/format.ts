/**
 * The JSON seed file format (`xops sim --seed FILE`, or `startSimulator({seed: doc})`).
 *
 * Sizes are bytes (number) or strings with a binary unit: "512MiB", "20GiB", "2TiB". Names refer to other
 * objects of the same document by `name_label`. Example:
 *
 * ```json
 * {
 *   "pool": { "name_label": "lab", "default_SR": "shared-nfs" },
 *   "hosts": [ { "name_label": "h1", "memory": "64GiB", "cpus": 8 }, { "name_label": "h2" } ],
 *   "networks": [ { "name_label": "Pool-wide network associated with eth0", "bridge": "xenbr0", "device": "eth0", "management": true } ],
 *   "srs": [
 *     { "name_label": "shared-nfs", "type": "nfs", "shared": true, "size": "2TiB",
 *       "device_config": { "server": "10.0.0.5", "serverpath": "/export/xcp" } },
 *     { "name_label": "Local storage on h1", "type": "lvm", "host": "h1", "size": "500GiB" }
 *   ],
 *   "templates": [ { "name_label": "Debian Bookworm 12", "memory": "2GiB", "vcpus": 2, "disks": [ { "size": "10GiB" } ] } ],
 *   "vms": [
 *     { "name_label": "web01", "power_state": "Running", "host": "h1", "vcpus": 2, "memory": "2GiB",
 *       "disks": [ { "size": "20GiB", "sr": "shared-nfs" } ], "networks": [ "Pool-wide network associated with eth0" ] }
 *   ]
 * }
 * ```
 *
 * Defaults: one host `xcp-host1`; every network with a `device` gets one physical PIF per host; an SR is shared
 * when `shared` is true (one PBD per host), otherwise local to `host` (default: the first host). The first host
 * is the pool master.
 */
export interface SeedDocument {
  pool?: { name_label?: string; name_description?: string; default_SR?: string; other_config?: Record<string, string>; tags?: string[] };
  hosts?: SeedHost[];
  networks?: SeedNetwork[];
  srs?: SeedSr[];
  templates?: SeedVm[];
  vms?: SeedVm[];
}

/** A host; `memory` defaults to 64GiB, `cpus` to 16. */
export interface SeedHost {
  name_label: string;
  memory?: number | string;
  cpus?: number;
}

/** A network; with `device`, each host gets a physical PIF of that device on it. */
export interface SeedNetwork {
  name_label: string;
  bridge?: string;
  device?: string;
  /** The PIFs of this network carry the hosts' management addresses. */
  management?: boolean;
  MTU?: number;
  other_config?: Record<string, string>;
}

/** A storage repository. */
export interface SeedSr {
  name_label: string;
  type: string;
  shared?: boolean;
  size?: number | string;
  content_type?: string;
  host?: string;
  device_config?: Record<string, string>;
  /** For ISO SRs: names of ISO images to list as VDIs. */
  isos?: string[];
}

/** A VM or template. */
export interface SeedVm {
  name_label: string;
  name_description?: string;
  power_state?: 'Halted' | 'Running' | 'Paused' | 'Suspended';
  host?: string;
  vcpus?: number;
  memory?: number | string;
  /** For templates: written to other_config["disks"]; for VMs: real VDIs (sr defaults to the pool default). */
  disks?: { size: number | string; sr?: string; name_label?: string }[];
  networks?: string[];
  other_config?: Record<string, string>;
  tags?: string[];
  /** VM.reference_label (read-only over the API: set at creation, copied by VM.clone from its source). */
  reference_label?: string;
  /**
   * What is installed in the VM's (or template's) image; clones inherit it. Default: a generic Linux with tools
   * when the VM or template has disks, nothing (no agent, no PV drivers) when it has none.
   */
  guest?: SeedGuest;
}

/**
 * A guest as seeds and `POST /_sim/guests` spell it (the simulator's GuestProfile): `tools` says whether the guest
 * agent and PV drivers run; `os` is what the agent reports as os_version.
 */
export interface SeedGuest {
  tools: boolean;
  os?: { distro: string; name: string; major?: string; minor?: string; uname?: string };
  toolsVersion?: string;
  canUseHotplugVbd?: 'yes' | 'no' | 'unspecified';
  canUseHotplugVif?: 'yes' | 'no' | 'unspecified';
  other?: Record<string, string>;
}

/** Parses "20GiB" and friends (or passes bytes through). */
export function parseSize(v: number | string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v === 'number') return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB)?\s*$/.exec(v);
  if (!m) throw new Error(`invalid size ${JSON.stringify(v)}`);
  const mult = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 }[(m[2] ?? 'B') as 'B'];
  return Math.round(Number(m[1]) * mult);
}
