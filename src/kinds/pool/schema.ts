import type { DesiredPool } from '../../model/desired.js';
import { closedObject, documentSchema, ref } from '../../manifests/schema-kit.js';
import { checkOtherConfig, type KindDefinition } from '../../manifests/build-context.js';

interface PoolSpec {
  nameLabel?: string;
  description?: string;
  defaultSR?: string;
  tags?: string[];
  otherConfig?: Record<string, string>;
  ha?: { enabled: boolean; hostFailuresToTolerate?: number };
}

/** The pool's own settings. At most one Pool manifest per repository: the pool xops connects to. */
export const poolSchema: KindDefinition<DesiredPool> = {
  kind: 'Pool',
  schemaFile: 'pool.schema.json',
  schema: documentSchema(
    'Pool',
    'the pool itself',
    'Settings of the pool xops is connected to. At most one per repository.',
    closedObject({
      nameLabel: { type: 'string', description: 'The pool\'s name_label (default: unchanged).' },
      description: { type: 'string', description: 'name_description.' },
      defaultSR: ref('reference', 'The pool\'s default SR: an SR manifest name, or an existing SR\'s name_label or uuid.'),
      tags: ref('tags'),
      otherConfig: ref('otherConfig'),
      ha: closedObject(
        {
          enabled: { type: 'boolean', description: 'Whether pool HA is on.' },
          hostFailuresToTolerate: { type: 'integer', minimum: 0, description: 'ha_host_failures_to_tolerate.' },
        },
        ['enabled'],
        { description: 'High availability.' },
      ),
    }),
  ),
  build(raw, meta, ctx) {
    const spec = raw as PoolSpec;
    return {
      kind: 'Pool',
      meta,
      spec: {
        ...(spec.nameLabel !== undefined ? { nameLabel: spec.nameLabel } : {}),
        ...(spec.description !== undefined ? { description: spec.description } : {}),
        ...(spec.defaultSR !== undefined ? { defaultSR: ctx.ref('SR', spec.defaultSR, 'spec.defaultSR') } : {}),
        ...(spec.tags !== undefined ? { tags: spec.tags } : {}),
        ...(spec.otherConfig !== undefined ? { otherConfig: checkOtherConfig(spec.otherConfig, 'spec.otherConfig', ctx) } : {}),
        ...(spec.ha !== undefined ? { ha: spec.ha } : {}),
      },
    };
  },
};
