import type { DesiredHost } from '../../model/desired.js';
import { closedObject, documentSchema, ref } from '../../manifests/schema-kit.js';
import { checkOtherConfig, type KindDefinition } from '../../manifests/build-context.js';

interface HostSpec {
  name?: string;
  description?: string;
  tags?: string[];
  otherConfig?: Record<string, string>;
  maintenance?: boolean;
}

/** Settings of an existing host (xops never creates or removes hosts). */
export const hostSchema: KindDefinition<DesiredHost> = {
  kind: 'Host',
  schemaFile: 'host.schema.json',
  schema: documentSchema(
    'Host',
    'settings of an existing host',
    'Settings of a host that is already in the pool, matched by name_label or uuid. xops never adds or removes hosts.',
    closedObject({
      name: { type: 'string', minLength: 1, description: 'The host\'s name_label or uuid (default: metadata.name).' },
      description: { type: 'string', description: 'name_description.' },
      tags: ref('tags'),
      otherConfig: ref('otherConfig'),
      maintenance: { type: 'boolean', description: 'true: live-migrate every VM away (refused if the pool cannot take them), then disable the host; false: enable it.' },
    }),
  ),
  build(raw, meta, ctx) {
    const spec = raw as HostSpec;
    const name = spec.name ?? meta.name;
    // A Host manifest describes a host that must already exist in the pool.
    ctx.ref('Host', name, spec.name !== undefined ? 'spec.name' : 'metadata.name', { liveOnly: true });
    return {
      kind: 'Host',
      meta,
      spec: {
        name,
        ...(spec.description !== undefined ? { description: spec.description } : {}),
        ...(spec.tags !== undefined ? { tags: spec.tags } : {}),
        ...(spec.otherConfig !== undefined ? { otherConfig: checkOtherConfig(spec.otherConfig, 'spec.otherConfig', ctx) } : {}),
        ...(spec.maintenance !== undefined ? { maintenance: spec.maintenance } : {}),
      },
    };
  },
};
