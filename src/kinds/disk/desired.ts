/** The disk kind's desired-state types: what its schema's decoder produces and its planner reads. */
import type { ManifestMeta, Reference } from '../../model/manifest.js';

/** Encodings of an image file XAPI's import handler takes. */
export type DiskImageFormat = 'raw' | 'vhd' | 'vmdk';

/** An image written into the disk once, when xops creates it. */
export interface DiskSource {
  /** Relative to the manifests folder, forward slashes, never leaving it (checked again at apply time). */
  file: string;
  format: DiskImageFormat;
  /** A disk image inside `file` when that is an OVA/OVF package (`xops import-ova` writes it). */
  member?: string;
  /** The file's size in bytes, when the manifests were loaded from a folder that holds it (for the plan). */
  bytes?: number;
}

/**
 * A standalone disk: a VDI declared on its own, which VMs attach by name (`disks: [{disk: NAME}]`).
 * It outlives the VMs that use it (a VM replace keeps it) and is deleted only by a prune.
 */
export interface DesiredStandaloneDisk {
  kind: 'Disk';
  meta: ManifestMeta;
  spec: {
    nameLabel: string;
    description?: string;
    /** Bytes. */
    size: number;
    sr: Reference;
    source?: DiskSource;
    tags: string[];
  };
}
