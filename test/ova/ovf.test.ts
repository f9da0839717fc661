/**
 * The OVF descriptor read into the import model (DMTF DSP0243 1.x/2.x; CIM ResourceType numbers from
 * CIM_ResourceAllocationSettingData), on descriptors shaped like ovftool's and VirtualBox's, and the refusals of
 * hostile or broken ones.
 */
import { describe, expect, it } from 'vitest';
import { OvfError, parseOvf, unitBytes } from '../../src/ova/ovf.js';
import { parseXml } from '../../src/ova/xml.js';
import { MiB, vmwareOvf } from './fixtures.js';

const GiB = 1024 * MiB;

describe('parseOvf on a VMware-shaped descriptor', () => {
  const text = vmwareOvf({
    name: 'web-01',
    vcpus: 4,
    coresPerSocket: 2,
    memoryMiB: 4096,
    efi: true,
    networks: ['VM Network', 'Storage'],
    disks: [
      { file: 'web-01-disk1.vmdk', capacity: 16 * GiB },
      { file: 'web-01-disk2.vmdk', capacity: 100 * GiB },
    ],
  });
  const env = parseOvf(text, 'web-01.ovf');
  const vm = env.systems[0]!;

  it('maps CPUs, cores per socket, memory and firmware', () => {
    expect(env.version).toBe('1');
    expect(env.systems).toHaveLength(1);
    expect(vm).toMatchObject({ id: 'web-01', name: 'web-01', vcpus: 4, coresPerSocket: 2, memory: 4 * GiB, firmware: 'uefi', guestOs: 'debian10_64Guest' });
  });

  it('maps NICs to their networks and disks to their files, in order', () => {
    expect(vm.nics).toEqual([{ network: 'VM Network' }, { network: 'Storage' }]);
    expect(vm.disks.map((d) => [d.diskId, d.capacity, d.file?.href])).toEqual([
      ['vmdisk1', 16 * GiB, 'web-01-disk1.vmdk'],
      ['vmdisk2', 100 * GiB, 'web-01-disk2.vmdk'],
    ]);
  });

  it('notes the devices it does not import', () => {
    const messages = vm.notes.map((n) => n.message).join('\n');
    expect(messages).toMatch(/CD drive 'CD\/DVD drive 1': not imported/);
    expect(messages).toMatch(/graphics controller 'Video card': not imported/);
    expect(messages).toMatch(/SCSI controller 'SCSI controller 0' \(lsilogic\)/);
    expect(messages).toMatch(/'Network adapter 1' is a VmxNet3/);
  });

  it('reads BIOS when the firmware config says bios', () => {
    const bios = parseOvf(vmwareOvf({ name: 'b', vcpus: 1, memoryMiB: 512, networks: [], disks: [] }), 'b.ovf');
    expect(bios.systems[0]!.firmware).toBe('bios');
    expect(bios.systems[0]!.coresPerSocket).toBeUndefined();
  });
});

describe('parseOvf on a VirtualBox-shaped OVF 2.0 descriptor', () => {
  const text = `<?xml version="1.0"?>
<Envelope ovf:version="2.0" xml:lang="en-US" xmlns="http://schemas.dmtf.org/ovf/envelope/2" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/2" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:epasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_EthernetPortAllocationSettingData" xmlns:vbox="http://www.virtualbox.org/ovf/machine">
  <References><File ovf:id="file1" ovf:href="box-disk001.vmdk"/></References>
  <DiskSection><Info>disks</Info><Disk ovf:capacity="8" ovf:capacityAllocationUnits="byte * 2^30" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/></DiskSection>
  <VirtualSystemCollection ovf:id="all">
    <VirtualSystem ovf:id="box">
      <VirtualHardwareSection>
        <Item><rasd:ElementName>2 virtual CPU</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
        <Item><rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>1024</rasd:VirtualQuantity></Item>
        <Item><rasd:HostResource>/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>7</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType></Item>
        <EthernetPortItem><epasd:Address>08:00:27:AB:CD:EF</epasd:Address><epasd:Connection>NAT</epasd:Connection><epasd:InstanceID>9</epasd:InstanceID><epasd:ResourceType>10</epasd:ResourceType></EthernetPortItem>
        <Item><rasd:ElementName>sound</rasd:ElementName><rasd:InstanceID>10</rasd:InstanceID><rasd:ResourceType>35</rasd:ResourceType></Item>
      </VirtualHardwareSection>
      <vbox:Machine ovf:required="false" name="box"><Hardware><Firmware type="EFI"/></Hardware></vbox:Machine>
    </VirtualSystem>
  </VirtualSystemCollection>
</Envelope>`;

  it('maps the system inside a collection, with its MAC and EFI firmware', () => {
    const env = parseOvf(text, 'box.ovf');
    expect(env.version).toBe('2');
    expect(env.systems[0]).toMatchObject({ name: 'box', vcpus: 2, memory: GiB, firmware: 'uefi', nics: [{ network: 'NAT', mac: '08:00:27:ab:cd:ef' }] });
    expect(env.systems[0]!.disks[0]!.capacity).toBe(8 * GiB);
    expect(env.systems[0]!.notes.map((n) => n.message)).toContain("sound card 'sound': not imported (xops does not model it)");
  });
});

describe('parseOvf refuses', () => {
  const base = vmwareOvf({ name: 'x', vcpus: 2, memoryMiB: 1024, networks: ['n'], disks: [{ file: 'x.vmdk', capacity: GiB }] });

  it('a DTD, so no entity is ever expanded (billion laughs)', () => {
    const bomb = base.replace('<Envelope', '<!DOCTYPE Envelope [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n<Envelope').replace('<Name>x</Name>', '<Name>&b;</Name>');
    expect(() => parseOvf(bomb, 'x.ovf')).toThrow(OvfError);
    expect(() => parseOvf(bomb, 'x.ovf')).toThrow(/x\.ovf: line 3: a DTD .* is not accepted/);
  });

  it('an entity XML does not predefine', () => {
    expect(() => parseOvf(base.replace('<Name>x</Name>', '<Name>&ext;</Name>'), 'x.ovf')).toThrow(/entity '&ext;' is not accepted/);
  });

  it('nesting past the depth bound', () => {
    const deep = base.replace('<Name>x</Name>', `<Name>x</Name>${'<a>'.repeat(100)}${'</a>'.repeat(100)}`);
    expect(() => parseOvf(deep, 'x.ovf')).toThrow(/nested deeper than 64/);
  });

  it('a huge capacity, memory or CPU count', () => {
    expect(() => parseOvf(base.replace(`ovf:capacity="${GiB}" ovf:capacityAllocationUnits="byte"`, 'ovf:capacity="9999999" ovf:capacityAllocationUnits="byte * 2^30"'), 'x.ovf')).toThrow(
      /disk capacity of 9999999 x byte \* 2\^30 is over the limit/,
    );
    expect(() => parseOvf(base.replace('<rasd:VirtualQuantity>1024</rasd:VirtualQuantity>', '<rasd:VirtualQuantity>99999999999999999999</rasd:VirtualQuantity>'), 'x.ovf')).toThrow(/memory|over the limit/);
    expect(() => parseOvf(base.replace('<rasd:VirtualQuantity>2</rasd:VirtualQuantity>', '<rasd:VirtualQuantity>5000</rasd:VirtualQuantity>'), 'x.ovf')).toThrow(/CPU count .* 5000 is over the limit of 1024/);
  });

  it('a disk that refers to a file References does not list', () => {
    expect(() => parseOvf(base.replace('ovf:fileRef="file1"', 'ovf:fileRef="file9"'), 'x.ovf')).toThrow(/disk 'vmdisk1' refers to file 'file9', which <References> does not list/);
  });

  it('a disk drive whose disk the DiskSection does not declare', () => {
    expect(() => parseOvf(base.replace('ovf:/disk/vmdisk1', 'ovf:/disk/vmdisk7'), 'x.ovf')).toThrow(/refers to disk 'vmdisk7'/);
  });

  it('file references that leave the package', () => {
    for (const href of ['../etc/passwd', '/etc/passwd', 'http://example.com/x.vmdk'])
      expect(() => parseOvf(base.replace('ovf:href="x.vmdk"', `ovf:href="${href}"`), 'x.ovf')).toThrow(/is not a plain name inside the package/);
  });

  it('a value given as an OVF property', () => {
    expect(() => parseOvf(base.replace('<rasd:VirtualQuantity>2</rasd:VirtualQuantity>', '<rasd:VirtualQuantity>${cpus}</rasd:VirtualQuantity>'), 'x.ovf')).toThrow(/refers to an OVF property/);
  });

  it('malformed XML, with its line', () => {
    expect(() => parseOvf('<Envelope>\n<a></b>\n</Envelope>', 'x.ovf')).toThrow(/x\.ovf: line 2: end tag <\/b> does not close <a>/);
    expect(() => parseOvf('<Envelope>', 'x.ovf')).toThrow(/never closed/);
  });
});

describe('the XML reader and units', () => {
  it('decodes predefined entities, character references and CDATA', () => {
    const el = parseXml('<a x="&lt;&#65;&#x42;"><![CDATA[<raw>]]> &amp; </a>', 't');
    expect(el.attrs.x).toBe('<AB');
    expect(el.text).toBe('<raw> &');
  });

  it('reads DSP0004 units', () => {
    expect(unitBytes('byte * 2^20', 1)).toBe(MiB);
    expect(unitBytes('byte*10^9', 1)).toBe(1e9);
    expect(unitBytes('GigaBytes', 1)).toBe(GiB);
    expect(unitBytes(undefined, MiB)).toBe(MiB);
    expect(unitBytes('furlongs', 1)).toBeUndefined();
  });
});
