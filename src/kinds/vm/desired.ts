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

/** Boot devices in the manifest's words; XAPI spells the order as letters (disk c, cdrom d, network n). */
export type BootDevice = 'disk' | 'cdrom' | 'network';

/** How the VM boots: HVM_boot_params order and firmware, platform secureboot. */
export interface DesiredBoot {
  order?: BootDevice[];
  firmware?: 'bios' | 'uefi';
  /** Needs `firmware: uefi` (the loader refuses it otherwise). */
  secureBoot?: boolean;
}

/** A part of the cloud-init config written as `{file: PATH}`: the repository file its text comes from. */
export interface CloudInitFileRef {
  /** Relative to the manifests folder, forward slashes; the loader checked it stays inside. */
  path: string;
  /** True when the snapshot carried the file and its text is the part's (manifests/companion-files.ts). */
  read: boolean;
  /** Why the file could not be read (missing, a symlink leading outside, too large); the planner reports it. */
  problem?: string;
}

/**
 * The NoCloud config drive xops writes for the VM when it creates it (cloud-init reads it on the
 * first boot of each instance). Texts are the files' content; `files` says which came from a file.
 */
export interface DesiredCloudInit {
  /** The user-data document (`#cloud-config` YAML, a script...). */
  userData: string;
  /** network-config (version 1 or 2) as YAML text; a mapping in the manifest is written out as YAML. */
  networkConfig?: string;
  /** Extra meta-data keys (`instance-id` and `local-hostname` are xops's own). */
  metaData?: Record<string, string | number | boolean>;
  /** Detach and destroy the drive once the guest has reported (its first boot is done). */
  removeAfterFirstBoot: boolean;
  files?: { userData?: CloudInitFileRef; networkConfig?: CloudInitFileRef };
}

export interface DesiredVM {
  kind: 'VM';
  meta: ManifestMeta;
  spec: {
    nameLabel: string;
    description?: string;
    /**
     * The template to clone (a live object, by name_label or uuid). Needed only to create the VM: a
     * manifest for a VM that exists (adopted or exported) may leave it out, and then nothing compares it.
     */
    template?: Reference;
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
    /** platform["cores-per-socket"]; must divide vcpusMax. Takes effect at boot. */
    coresPerSocket?: number;
    /** platform["nested-virt"]. Takes effect at boot. */
    nestedVirtualization?: boolean;
    /** platform["videoram"], MiB. Takes effect at boot. */
    videoRam?: number;
    boot?: DesiredBoot;
    /** VCPUs_params["cap"]: percent of one physical CPU (0: no cap). Applied live. */
    cpuCap?: number;
    /** VCPUs_params["weight"]: scheduler share relative to other VMs (default 256). Applied live. */
    cpuWeight?: number;
    /** blocked_operations keys (e.g. destroy): when declared, exactly these are blocked. */
    blockedOperations?: string[];
    /** Seconds (VM.start_delay); only for VMs outside an appliance (the VMAppliance kind owns it for members). */
    startDelay?: number;
    /** Seconds (VM.shutdown_delay); only for VMs outside an appliance. */
    shutdownDelay?: number;
    /** xenstore_data keys the manifest manages (others are left alone); the guest reads them at boot. */
    xenstoreData?: Record<string, string>;
    /** The SR that holds the VM's memory image when it is suspended (VM.suspend_SR). */
    suspendSR?: Reference;
    /** A CD drive; `iso` names a VDI on an ISO SR (content_type iso) to insert; none: an empty drive. */
    cdrom?: { iso?: string };
    /** A virtual TPM (XAPI's VTPM class, one per VM); attached and removed only while the VM is halted. */
    vtpm?: boolean;
    /** After starting the VM, apply waits until its guest reports an address in `waitForIP` (IPv4 CIDR). */
    readiness?: { waitForIP: string; timeout: number };
    /** A NoCloud config drive built, uploaded and attached at create; a later change takes effect only on a replace. */
    cloudInit?: DesiredCloudInit;
    tags: string[];
    otherConfig: Record<string, string>;
  };
}
