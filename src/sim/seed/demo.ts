import type { SeedDocument, SeedGuest } from './format.js';

const templateDisk = (gib: number) => [{ size: `${gib}GiB` }];

/** An installed OS running the guest agent and PV drivers. */
const withTools = (distro: string, name: string, major: string, minor: string, uname?: string): SeedGuest => ({
  tools: true,
  os: { distro, name, major, minor, ...(uname ? { uname } : {}) },
});

/**
 * The `demo` pool. Other parts of xops (examples, tests, docs) name these objects, so the names are a contract:
 * change them only together with every manifest that refers to them.
 */
export const DEMO_SEED: SeedDocument = {
  pool: { name_label: 'demo', name_description: 'xops demo pool (simulated)', default_SR: 'pool-nfs' },
  hosts: [
    { name_label: 'xcp-host1', memory: '64GiB', cpus: 16 },
    { name_label: 'xcp-host2', memory: '64GiB', cpus: 16 },
    { name_label: 'xcp-host3', memory: '64GiB', cpus: 16 },
  ],
  networks: [0, 1, 2, 3].map((i) => ({
    name_label: `Pool-wide network associated with eth${i}`,
    bridge: `xenbr${i}`,
    device: `eth${i}`,
    management: i === 0,
  })),
  srs: [
    ...[1, 2, 3].map((i) => ({ name_label: `Local storage on xcp-host${i}`, type: 'lvm', host: `xcp-host${i}`, size: '930GiB', content_type: 'user', device_config: { device: '/dev/sda3' } })),
    {
      name_label: 'XCP-ng Tools',
      type: 'iso',
      shared: true,
      size: '0',
      content_type: 'iso',
      device_config: { location: '/opt/xensource/packages/iso', legacy_mode: 'true' },
      isos: ['guest-tools.iso'],
    },
    { name_label: 'pool-nfs', type: 'nfs', shared: true, size: '2TiB', content_type: 'user', device_config: { server: '192.168.10.50', serverpath: '/export/xcp-pool', nfsversion: '4.1' } },
  ],
  templates: [
    // The templates xops' examples clone from carry an installed OS with tools, so their VMs hot-plug like real
    // installed guests; "Other install media" is an empty disk-less machine: no OS, no agent, no PV drivers.
    {
      name_label: 'Debian Bookworm 12',
      memory: '2GiB',
      vcpus: 1,
      disks: templateDisk(10),
      other_config: { 'install-methods': 'cdrom,nfs,http,ftp' },
      guest: withTools('debian', 'Debian GNU/Linux 12 (bookworm)', '12', '5', '6.1.0-21-amd64'),
    },
    {
      name_label: 'Ubuntu Jammy Jellyfish 22.04',
      memory: '2GiB',
      vcpus: 1,
      disks: templateDisk(10),
      other_config: { 'install-methods': 'cdrom,nfs,http,ftp' },
      guest: withTools('ubuntu', 'Ubuntu 22.04.4 LTS', '22', '04', '5.15.0-105-generic'),
    },
    {
      name_label: 'Rocky Linux 9',
      memory: '2GiB',
      vcpus: 1,
      disks: templateDisk(10),
      other_config: { 'install-methods': 'cdrom,nfs,http,ftp' },
      guest: withTools('rhel', 'Rocky Linux 9.4 (Blue Onyx)', '9', '4', '5.14.0-427.13.1.el9_4.x86_64'),
    },
    {
      name_label: 'Windows Server 2022 (64-bit)',
      memory: '2GiB',
      vcpus: 2,
      disks: templateDisk(32),
      other_config: { 'install-methods': 'cdrom' },
      guest: withTools('windows', 'Microsoft Windows Server 2022 Standard|C:\\Windows|\\Device\\Harddisk0\\Partition2', '10', '0'),
    },
    { name_label: 'Other install media', memory: '1GiB', vcpus: 1, disks: [], other_config: { 'install-methods': 'cdrom' }, guest: { tools: false } },
  ],
  vms: [
    {
      name_label: 'legacy-web01',
      name_description: 'Hand-made web server, not managed by xops',
      power_state: 'Running',
      host: 'xcp-host1',
      vcpus: 2,
      memory: '2GiB',
      disks: [{ size: '20GiB', sr: 'pool-nfs', name_label: 'legacy-web01 root' }],
      networks: ['Pool-wide network associated with eth0'],
      guest: withTools('debian', 'Debian GNU/Linux 11 (bullseye)', '11', '9', '5.10.0-28-amd64'),
    },
    {
      name_label: 'backup-appliance',
      name_description: 'Vendor backup appliance, not managed by xops',
      power_state: 'Halted',
      vcpus: 1,
      memory: '1GiB',
      disks: [{ size: '50GiB', sr: 'Local storage on xcp-host2', name_label: 'backup-appliance data' }],
      networks: ['Pool-wide network associated with eth0'],
      // A vendor image without XAPI guest tools: once started, it refuses hot-plug and its allowed_operations leave
      // out clean shutdown/reboot, suspend and migration.
      guest: { tools: false, os: { distro: 'linux', name: 'Vendor appliance OS' } },
    },
  ],
};

/** A pool with one host and its management network: the smallest pool a client can log in to. */
export const EMPTY_SEED: SeedDocument = {
  pool: { name_label: 'empty' },
  hosts: [{ name_label: 'xcp-host1' }],
  networks: [{ name_label: 'Pool-wide network associated with eth0', bridge: 'xenbr0', device: 'eth0', management: true }],
};
