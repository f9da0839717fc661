import type { DesiredStandaloneDisk, DiskImageFormat } from '../../model/desired.js';
import { closedObject, documentSchema, ref } from '../../manifests/schema-kit.js';
import type { BuildContext, KindDefinition } from '../../manifests/build-context.js';
import { repositoryPathProblem } from '../../manifests/file-path.js';

interface DiskSpec {
  nameLabel?: string;
  description?: string;
  size: number | string;
  sr: string;
  source?: { file: string; format?: DiskImageFormat };
  tags?: string[];
}

/** Longest image path accepted (a path is a file name in a repository, not data). */
const MAX_PATH = 1024;

/** Why an image path would leave the manifests folder (the shared rule, manifests/file-path.ts); apply checks again with realpath. */
export const imagePathProblem = repositoryPathProblem;

/** The format an image file has when the manifest does not say: `.vhd` files are VHD, anything else raw. */
export function formatOfFile(file: string): DiskImageFormat {
  return /\.vhd$/i.test(file) ? 'vhd' : 'raw';
}

function decodeSource(spec: DiskSpec, ctx: BuildContext): DesiredStandaloneDisk['spec']['source'] {
  if (!spec.source) return undefined;
  const problem = imagePathProblem(spec.source.file);
  if (problem) ctx.error('spec.source.file', `'${spec.source.file}' ${problem}`, 'path-escape');
  const file = spec.source.file.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
  const member = (spec.source as { member?: string }).member;
  if (spec.source.format === 'vmdk' && member === undefined) ctx.error('spec.source.format', 'a vmdk image is read from an OVA/OVF package: name it with source.member', 'vmdk-needs-package');
  return { file, format: spec.source.format ?? formatOfFile(member ?? file), ...(member !== undefined ? { member } : {}) };
}

/** A standalone disk: one VDI on an SR, optionally filled from an image file when it is created. */
export const diskSchema: KindDefinition<DesiredStandaloneDisk> = {
  kind: 'Disk',
  schemaFile: 'disk.schema.json',
  word: 'disk',
  // VMs attach Disk manifests by name; a VDI xops did not declare is never attached by reference.
  manifestOnly: true,
  schema: documentSchema(
    'Disk',
    'a standalone disk',
    'A disk (VDI) declared on its own, which VMs attach by name (`disks: [{disk: NAME}]`). It outlives a replace of the VMs that use it, is deleted only by a prune with destructive approval, and never shrinks.',
    closedObject(
      {
        nameLabel: { type: 'string', minLength: 1, description: 'name_label (default: metadata.name).' },
        description: { type: 'string', description: 'name_description.' },
        size: ref('size', 'Virtual size, e.g. 20GiB. Growing is allowed; shrinking is refused.'),
        sr: ref('reference', 'The SR the disk lives on: an SR manifest name, or an SR\'s name_label or uuid. It cannot change later.'),
        source: closedObject(
          {
            file: { type: 'string', minLength: 1, maxLength: MAX_PATH, description: 'Image file, relative to the manifests folder (inside it).' },
            format: { enum: ['raw', 'vhd', 'vmdk'], description: 'Image format (default: vhd for a `.vhd` file, else raw; vmdk only inside an OVA/OVF package).' },
            member: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^/\\\\]+$', description: 'The disk image inside `file` when it is an OVA/OVF package (as `xops import-ova` writes it); its digest is checked against the package manifest before upload.' },
            url: { not: {}, errorMessage: 'URL sources are not supported yet: download the image into the repository and name it with source.file' },
          },
          ['file'],
          { description: 'An image written into the disk once, when xops creates it; an existing disk\'s data is never overwritten.' },
        ),
        tags: ref('tags'),
      },
      ['size', 'sr'],
    ),
  ),
  build(raw, meta, ctx) {
    const spec = raw as unknown as DiskSpec;
    const size = ctx.size(spec.size, 'spec.size');
    if (size === 0) ctx.error('spec.size', 'a disk needs a size above zero');
    const source = decodeSource(spec, ctx);
    return {
      kind: 'Disk',
      meta,
      spec: {
        nameLabel: spec.nameLabel ?? meta.name,
        ...(spec.description !== undefined ? { description: spec.description } : {}),
        size: size ?? 0,
        sr: ctx.ref('SR', spec.sr, 'spec.sr'),
        ...(source ? { source } : {}),
        tags: spec.tags ?? [],
      },
    };
  },
};
