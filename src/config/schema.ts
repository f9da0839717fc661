/**
 * JSON Schema of the operator's configuration, published as `schemas/controller-config.schema.json`
 * so editors can check it like the manifests.
 */
const file = { type: 'string', minLength: 1, maxLength: 4096 } as const;

export const CONTROLLER_CONFIG_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://xops.dev/schemas/controller-config.schema.json',
  title: 'xops ControllerConfig',
  description: "The operator's configuration: what no commit can change. Never read from the repository.",
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind'],
  properties: {
    apiVersion: { const: 'xops/v1' },
    kind: { const: 'ControllerConfig' },
    limits: {
      description: "Ceilings for the repository's Policy documents, which may only tighten them. All off by default.",
      type: 'object',
      additionalProperties: false,
      properties: {
        adopt: { type: 'boolean', description: 'Policies may adopt unmanaged objects that have a manifest\'s name.' },
        prune: { type: 'boolean', description: 'Policies may delete managed objects no manifest declares.' },
        destructive: { type: 'boolean', description: 'Approved destructive actions (data or connectivity loss) may run.' },
      },
    },
    repository: {
      description: 'What one commit may hold, over the built-in defaults (20,000 manifest files, 1 MiB each, 64 MiB in all, 1,000,000 YAML nodes).',
      type: 'object',
      additionalProperties: false,
      properties: {
        maxFiles: { type: 'integer', minimum: 1, maximum: 1000000, description: 'Manifest files.' },
        maxFileBytes: { type: 'integer', minimum: 1024, maximum: 67108864, description: 'Bytes of one file.' },
        maxTotalBytes: { type: 'integer', minimum: 1024, maximum: 4294967296, description: 'Bytes of every file.' },
        maxEntries: { type: 'integer', minimum: 1, maximum: 5000000, description: 'Paths walked (files and folders).' },
        maxFileNodes: { type: 'integer', minimum: 1, maximum: 10000000, description: 'YAML nodes in one file.' },
        maxNodes: { type: 'integer', minimum: 1, maximum: 100000000, description: 'YAML nodes in every file.' },
        maxDepth: { type: 'integer', minimum: 1, maximum: 1000, description: 'Nesting depth of a YAML value.' },
      },
    },
    approvals: {
      type: 'object',
      additionalProperties: false,
      properties: {
        sameChange: { type: 'boolean', description: 'An approval added in the same commit as the change it approves counts (default false).' },
        tokenFile: { ...file, description: 'File holding the bearer token `xops approve` sends to the controller.' },
      },
    },
    secrets: {
      type: 'object',
      additionalProperties: false,
      properties: {
        dir: { ...file, description: 'secretRef.file must resolve, after symlinks, inside this folder.' },
        envPrefix: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'secretRef.env must start with this prefix.' },
        credentialKeys: {
          type: 'object',
          description: 'Per SR type, the device-config keys that may hold a secretRef.',
          maxProperties: 100,
          additionalProperties: { type: 'array', maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 100 } },
        },
      },
    },
    protected: {
      type: 'array',
      maxItems: 10_000,
      description: 'Objects never adopted, changed or deleted, besides those xops always protects.',
      items: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        maxProperties: 2,
        properties: {
          uuid: { type: 'string', minLength: 1, maxLength: 64 },
          name: { type: 'string', minLength: 1, maxLength: 512 },
          tag: { type: 'string', minLength: 1, maxLength: 512 },
          class: { enum: ['pool', 'host', 'network', 'SR', 'VM', 'VDI', 'VM_appliance'] },
        },
        oneOf: [{ required: ['uuid'] }, { required: ['name'] }, { required: ['tag'] }],
      },
    },
    git: {
      type: 'object',
      additionalProperties: false,
      properties: {
        verify: {
          description: "Only commits signed by a trusted key are applied (git's own verify-commit).",
          oneOf: [
            { type: 'object', additionalProperties: false, required: ['allowedSigners'], properties: { allowedSigners: { ...file, description: 'SSH allowed-signers file (gpg.ssh.allowedSignersFile).' } } },
            { type: 'object', additionalProperties: false, required: ['gpgKeyring'], properties: { gpgKeyring: { ...file, description: 'GnuPG home folder holding the trusted public keys.' } } },
          ],
        },
      },
    },
    http: {
      type: 'object',
      additionalProperties: false,
      properties: {
        tokenFile: { ...file, description: 'File holding the bearer token the read endpoints and the plan API require.' },
        webhookListen: { type: 'string', pattern: '^(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9.-]*):[0-9]{1,5}$', description: 'HOST:PORT for POST /webhook, apart from the read endpoints.' },
        allowedHosts: { type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.-]+$' }, description: 'Host names the HTTP endpoints answer to besides IP literals and localhost names.' },
      },
    },
    pools: {
      type: 'array',
      maxItems: 1000,
      description: 'The pools of a fleet: each reconciled from the union of its paths.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'xapi', 'user', 'paths'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description: "The pool's name (its Pool manifest's metadata.name)." },
          xapi: { type: 'string', minLength: 1, maxLength: 2048, pattern: '^https?://', description: "The pool coordinator's URL." },
          user: { type: 'string', minLength: 1, maxLength: 256 },
          passwordFile: { ...file, description: 'File holding the password.' },
          passwordEnv: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'Environment variable holding the password.' },
          ca: { ...file, description: "PEM file of CA certificates the pool's certificate must chain to." },
          paths: { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 1024 }, description: 'Folders of the repository; the pool reads the union.' },
          limits: {
            type: 'object',
            additionalProperties: false,
            properties: { adopt: { type: 'boolean' }, prune: { type: 'boolean' }, destructive: { type: 'boolean' } },
          },
        },
        oneOf: [{ required: ['passwordFile'] }, { required: ['passwordEnv'] }],
      },
    },
  },
} as const;
