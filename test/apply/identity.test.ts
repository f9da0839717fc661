import { describe, expect, it } from 'vitest';
import { matchDisks, matchVifs, type DiskFacts, type VifFacts } from '../../src/kinds/vm/identity.js';

const disk = (userdevice: string, nameLabel: string, otherConfig: Record<string, string> = {}): DiskFacts => ({ userdevice, nameLabel, otherConfig });
const names = (m: Map<string, { disk: DiskFacts; match: string }>) => Object.fromEntries([...m].map(([n, { disk: d, match }]) => [n, `${d.userdevice}:${match}`]));

describe('the disk identity rule planner and apply share', () => {
  it('takes the xops.disk key first, then the <vm>-<disk> name, then the userdevice', () => {
    const { byName, unmatched } = matchDisks('web', [
      disk('0', 'anything', { 'xops.disk': 'data' }),
      disk('1', 'web-root'),
      disk('2', 'template disk'),
      disk('3', 'spare'),
    ], (d) => d, [{ name: 'root' }, { name: 'data' }, { name: 'logs' }]);
    expect(names(byName)).toEqual({ data: '0:mark', root: '1:label', logs: '2:position' });
    expect(unmatched.map((d) => d.userdevice)).toEqual(['3']);
  });

  it('reads only the identity key: a disk marked in part (xops.managed, no xops.disk) is still matched, never a new one', () => {
    // What a kill between two add_to_other_config calls used to leave: the planner and apply now agree on it.
    const { byName } = matchDisks('web', [disk('0', 'web-root', { 'xops.disk': 'root' }), disk('1', 'web-data', { 'xops.managed': 'VM/web' })], (d) => d, [
      { name: 'root' }, { name: 'data' },
    ]);
    expect(names(byName)).toEqual({ root: '0:mark', data: '1:label' });
  });

  it('keeps the first of two disks carrying one name and leaves the other unmatched', () => {
    const { byName, unmatched } = matchDisks('web', [disk('0', 'a', { 'xops.disk': 'root' }), disk('1', 'b', { 'xops.disk': 'root' })], (d) => d);
    expect(names(byName)).toEqual({ root: '0:mark' });
    expect(unmatched.map((d) => d.nameLabel)).toEqual(['b']);
  });
});

describe('the VIF identity rule', () => {
  const vif = (device: string, otherConfig: Record<string, string> = {}): VifFacts => ({ device, otherConfig });
  it('takes xops.vif, else the device; a second VIF for a taken index is unmatched', () => {
    const { byIndex, unmatched } = matchVifs([vif('0', { 'xops.vif': '1' }), vif('1'), vif('2', { 'xops.managed': 'VM/web' }), vif('3', { 'xops.vif': '1' })], (v) => v);
    expect(Object.fromEntries([...byIndex].map(([i, { vif: v, marked }]) => [i, `${v.device}:${marked ? 'mark' : 'device'}`]))).toEqual({ 1: '0:mark', 2: '2:device' });
    expect(unmatched.map((v) => v.device)).toEqual(['3', '1']);
  });
});
