/**
 * Schema pieces every kind shares. Each kind's schema embeds the definitions it needs, so that every
 * file in `schemas/` stands alone for editors (yaml-language-server resolves no sibling files).
 */
import type { Kind } from '../model/kinds.js';

/** A JSON Schema object as we write them (draft-07, plus editor message keywords). */
export type JsonSchema = Record<string, unknown>;

export const API_VERSION = 'xops/v1';

/** Names that become XAPI name_labels and appear in addresses (`VM/web-01`) and VDI names (`web-01-root`). */
export const NAME_PATTERN = '^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$';

/** `512MiB`, `20GiB`, `1.5TiB`, `4G`, or a plain integer number of bytes. */
export const SIZE_PATTERN = '^[0-9]+(\\.[0-9]+)?\\s*(B|[kKMGTP]i?B?)?$';

/** `90s`, `15m`, `2h`, `1h30m`, `1d`, or a plain integer number of seconds. */
export const DURATION_PATTERN = '^([0-9]+[smhd])+$';

export const definitions: Record<string, JsonSchema> = {
  name: {
    type: 'string',
    pattern: NAME_PATTERN,
    patternErrorMessage:
      'must be 1-63 letters, digits, dots, dashes or underscores, starting and ending with a letter or digit',
    description: 'Unique per kind; the default XAPI name_label.',
  },
  reference: {
    type: 'string',
    minLength: 1,
    description:
      'Another manifest of the referenced kind (by metadata.name), or else an existing pool object (by name_label or uuid).',
  },
  size: {
    type: ['integer', 'string'],
    minimum: 0,
    pattern: SIZE_PATTERN,
    patternErrorMessage:
      'must be a size: bytes, or a number with a unit (512MiB, 20GiB, 1.5TiB; KiB/MiB/GiB/TiB are powers of 1024, KB/MB/GB/TB powers of 1000)',
    description:
      'Bytes, or a number with a unit: KiB, MiB, GiB, TiB, PiB (powers of 1024; also written Ki, Mi, Gi...) or KB, MB, GB, TB, PB (powers of 1000; also K, M, G...).',
    examples: ['512MiB', '20GiB', 1073741824],
  },
  duration: {
    type: ['integer', 'string'],
    minimum: 0,
    pattern: DURATION_PATTERN,
    patternErrorMessage: 'must be a duration: seconds, or like 90s, 15m, 2h, 1h30m, 1d',
    description: 'Seconds, or a duration such as 90s, 15m, 2h, 1h30m, 1d.',
  },
  stringMap: {
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'String keys and string values.',
  },
  tags: {
    type: 'array',
    items: { type: 'string', minLength: 1 },
    uniqueItems: true,
    description: 'XAPI tags, as a set.',
  },
  otherConfig: {
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'Keys set in the object\'s other_config (keys starting with `xops.` are reserved). Keys not listed are left alone.',
  },
  secretRef: {
    type: 'object',
    additionalProperties: false,
    required: ['secretRef'],
    properties: {
      secretRef: {
        type: 'object',
        additionalProperties: false,
        description: 'Where xops reads the secret at apply time. Exactly one of env or file.',
        properties: {
          env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', patternErrorMessage: 'must be an environment variable name', description: 'Environment variable holding the secret.' },
          file: { type: 'string', minLength: 1, description: 'File holding the secret (absolute, or relative to the manifests folder; a trailing newline is dropped).' },
        },
        oneOf: [{ required: ['env'] }, { required: ['file'] }],
        errorMessage: 'must name exactly one of env or file',
      },
    },
    description: 'A secret read at apply time, never stored in plans or logs.',
  },
  metadata: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { $ref: '#/definitions/name' },
      labels: { $ref: '#/definitions/stringMap', description: 'Free-form labels; admission policies match on them.' },
      annotations: { $ref: '#/definitions/stringMap', description: 'Free-form notes (e.g. approvals) that are not labels.' },
    },
  },
};

/** The whole-document schema for one kind: header fields fixed, `spec` as given. */
export function documentSchema(kind: Kind, title: string, description: string, spec: JsonSchema): JsonSchema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: `xops ${kind}: ${title}`,
    description,
    type: 'object',
    additionalProperties: false,
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    properties: {
      apiVersion: { const: API_VERSION, description: 'Always `xops/v1`.' },
      kind: { const: kind },
      metadata: { $ref: '#/definitions/metadata' },
      spec,
    },
    definitions,
  };
}

/** `{type: object, additionalProperties: false}` with the given properties: every spec is closed. */
export function closedObject(properties: Record<string, JsonSchema>, required: string[] = [], extra: JsonSchema = {}): JsonSchema {
  return { type: 'object', additionalProperties: false, ...(required.length ? { required } : {}), properties, ...extra };
}

export const ref = (name: string, description?: string): JsonSchema => ({
  $ref: `#/definitions/${name}`,
  ...(description ? { description } : {}),
});
