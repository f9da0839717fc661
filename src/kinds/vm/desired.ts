/** The vm kind's desired-state types: what its schema's decoder produces and its planner reads. */
import type { ManifestMeta, Reference } from '../../model/manifest.js';

export type PowerState = 'running' | 'halted' | 'suspended' | 'paused';
export type HaRestartPriority = 'restart' | 'best-effort' | '';

export interface DesiredDisk {
  /** Disk name, unique within the VM; the VDI's name_label is `<vm>-<disk>`. */
  name: string;
  /** Bytes. */
  size: number;
  /** Omitted: the pool's default SR. */
  sr?: Reference;
}

/** A standalone disk (a Disk manifest) the VM attaches: a `{disk: NAME}` entry of the manifest's `disks`. */
export interface DesiredAttachment {
  disk: Reference;
}

export interface DesiredVif {
  network: Reference;
  mac?: string;
}

export interface DesiredVM {
  kind: 'VM';
  meta: ManifestMeta;
  spec: {
    nameLabel: string;
    description?: string;
    /** Template name_label (a live object). */
    template: Reference;
    vcpus: number;
    /** VCPUs_max; defaults to `vcpus`. Raising `vcpus` up to it is a hot change. */
    vcpusMax: number;
    /** Bytes; dynamic_min = dynamic_max = memory. */
    memory: number;
    /** Bytes; static_max, defaults to `memory`. Growing memory up to it is a hot change. */
    memoryMax: number;
    disks: DesiredDisk[];
    /** The `{disk: NAME}` entries of the manifest's `disks`, in order; absent when there are none. */
    attachments?: DesiredAttachment[];
    networks: DesiredVif[];
    powerState: PowerState;
    /** Affinity host. */
    host?: Reference;
    haRestartPriority?: HaRestartPriority;
    autoPowerOn?: boolean;
    appliance?: Reference;
    tags: string[];
    otherConfig: Record<string, string>;
  };
}
