import type { BondMode, DesiredNetwork } from '../../model/desired.js';
import { closedObject, documentSchema, ref } from '../../manifests/schema-kit.js';
import { checkOtherConfig, type KindDefinition } from '../../manifests/build-context.js';

interface NetworkSpec {
  nameLabel?: string;
  description?: string;
  mtu?: number;
  vlan?: { tag: number; device: string };
  bond?: { devices: string[]; mode?: BondMode };
  tags?: string[];
  otherConfig?: Record<string, string>;
}

const DEVICE = { type: 'string', pattern: '^[A-Za-z0-9._-]{1,15}$', patternErrorMessage: 'must be a PIF device name such as eth1', description: 'A PIF device name present on every host, e.g. eth1.' };

/** A pool-wide network, optionally a VLAN over a device or a bond over several devices. */
export const networkSchema: KindDefinition<DesiredNetwork> = {
  kind: 'Network',
  schemaFile: 'network.schema.json',
  schema: documentSchema(
    'Network',
    'a pool-wide network (plain, VLAN or bond)',
    'A network; with `vlan`, a VLAN on the named device of every host; with `bond`, a bond over the named devices of every host.',
    closedObject(
      {
        nameLabel: { type: 'string', minLength: 1, description: 'name_label (default: metadata.name).' },
        description: { type: 'string', description: 'name_description.' },
        mtu: { type: 'integer', minimum: 576, maximum: 9216, description: 'MTU in bytes (1500 standard, 9000 for jumbo frames).' },
        vlan: closedObject(
          {
            tag: { type: 'integer', minimum: 0, maximum: 4094, description: 'VLAN tag (0-4094).' },
            device: DEVICE,
          },
          ['tag', 'device'],
          { description: 'Make this network a VLAN on `device` of every host.' },
        ),
        bond: closedObject(
          {
            devices: { type: 'array', items: DEVICE, minItems: 2, uniqueItems: true, description: 'The devices bonded on every host.' },
            mode: { enum: ['balance-slb', 'active-backup', 'lacp'], default: 'balance-slb', description: 'Bond mode (XAPI bond_mode).' },
          },
          ['devices'],
          { description: 'Make this network a bond over `devices` of every host.' },
        ),
        tags: ref('tags'),
        otherConfig: ref('otherConfig'),
      },
      [],
      { not: { required: ['vlan', 'bond'] }, errorMessage: 'a network is either a VLAN or a bond, not both' },
    ),
  ),
  build(raw, meta, ctx) {
    const spec = raw as NetworkSpec;
    return {
      kind: 'Network',
      meta,
      spec: {
        nameLabel: spec.nameLabel ?? meta.name,
        ...(spec.description !== undefined ? { description: spec.description } : {}),
        ...(spec.mtu !== undefined ? { mtu: spec.mtu } : {}),
        ...(spec.vlan !== undefined ? { vlan: spec.vlan } : {}),
        ...(spec.bond !== undefined ? { bond: { devices: spec.bond.devices, mode: spec.bond.mode ?? 'balance-slb' } } : {}),
        tags: spec.tags ?? [],
        otherConfig: checkOtherConfig(spec.otherConfig, 'spec.otherConfig', ctx),
      },
    };
  },
};
