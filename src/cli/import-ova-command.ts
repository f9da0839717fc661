import { lstat, mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { importManifests, type ImportNote } from '../ova/manifests.js';
import { PackageError, verifyPackage } from '../ova/package.js';
import { parseCommandArgs, str } from './args.js';
import { UserError } from './errors.js';

const USAGE = `usage: xops import-ova FILE.ova|FILE.ovf --dir DIR [--sr NAME] [--network FROM=TO ...] [--force]

Reads an OVF package (an .ova archive, or an .ovf with its files beside it, as VMware, VirtualBox and
ovftool write them), checks every file against its .mf manifest, and writes manifests into DIR: per
virtual system a VM (DIR/vms/) and its Disks (DIR/disks/), whose source is the package's disk image.
Nothing is uploaded until 'xops apply DIR'. What could not be mapped is printed and written as notes.

  --dir DIR            the manifest folder to write into (required)
  --sr NAME            the SR the disks go to (default: the pool's default SR)
  --network FROM=TO    connect the package's network FROM to the pool network TO (repeatable)
  --force              overwrite existing manifest files

docs/import-ova.md has the mapping and the limits.`;

/** `--network 'VM Network=prod-vlan100'` pairs; FROM must be a network the package's NICs use. */
export function parseNetworkMap(values: string[], known: Set<string>): Map<string, string> {
  const map = new Map<string, string>();
  for (const v of values) {
    const eq = v.lastIndexOf('=');
    const from = v.slice(0, eq).trim();
    const to = v.slice(eq + 1).trim();
    if (eq <= 0 || from === '' || to === '') throw new UserError(`--network: '${v}' is not FROM=TO`);
    if (!known.has(from)) throw new UserError(`--network: the package has no network '${from}' (its NICs use: ${[...known].map((n) => `'${n}'`).join(', ') || 'none'})`);
    if (map.has(from)) throw new UserError(`--network: '${from}' is mapped twice`);
    map.set(from, to);
  }
  return map;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

function formatNote(n: ImportNote): string {
  return `  ${n.address ? `${n.address}: ` : ''}${n.severity === 'warning' ? 'warning: ' : ''}${n.message}`;
}

function gib(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1).replace(/\.0$/, '')} GiB` : `${(bytes / 1024 ** 2).toFixed(1).replace(/\.0$/, '')} MiB`;
}

/** `xops import-ova FILE --dir DIR`: manifests for an OVF package's virtual systems. */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandArgs(
    argv,
    { dir: { type: 'string' }, sr: { type: 'string' }, network: { type: 'string', multiple: true }, force: { type: 'boolean' } },
    USAGE,
  );
  if (help) return 0;
  if (positionals.length !== 1) throw new UserError(`import-ova takes one package (FILE.ova or FILE.ovf), got ${positionals.length}\n${USAGE}`);
  const dir = str(values.dir);
  if (!dir) throw new UserError(`import-ova: --dir DIR is required\n${USAGE}`);
  const file = positionals[0]!;

  let pkg;
  try {
    pkg = await verifyPackage(file);
  } catch (e) {
    if (e instanceof PackageError) throw new UserError(`refusing ${file}: ${e.message}`);
    throw e;
  }
  const known = new Set(pkg.envelope.systems.flatMap((s) => s.nics.map((n) => n.network)));
  const networks = parseNetworkMap((values.network as string[] | undefined) ?? [], known);
  // Disk sources are written relative to the manifest folder, forward slashes, so the folder can move with it.
  const packageRef = relative(resolve(dir), resolve(file)).split(sep).join('/');
  // apply reads disk images only from inside the manifests folder (kinds/disk: no '..', no symlink out).
  if (packageRef.startsWith('../') || packageRef === '..' || isAbsolute(packageRef)) {
    throw new UserError(`import-ova: ${file} is outside ${dir}: apply reads disk images only from inside the manifests folder; move the package into ${dir} (e.g. ${join(dir, 'images')}) and import it from there`);
  }
  const result = importManifests(pkg, { packageRef, networks, ...(str(values.sr) ? { sr: str(values.sr)! } : {}) });

  if (values.force !== true) {
    const taken: string[] = [];
    for (const f of result.files) if (await exists(join(dir, f.path))) taken.push(f.path);
    if (taken.length > 0) throw new UserError(`refusing to overwrite ${taken.length} existing file(s) in ${dir}: ${taken.join(', ')} (pass --force)`);
  }
  for (const f of result.files) {
    const path = join(dir, f.path);
    try {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, f.content);
    } catch (err) {
      throw new UserError(`cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }

  const lines = [`imported ${basename(file)} into ${dir} (${pkg.digests.size} files checked against the package's manifest):`];
  for (const s of result.summary) lines.push(`  + create ${s.address} from OVA, ${s.disks} disk${s.disks === 1 ? '' : 's'}, ${gib(s.uploadBytes)} to upload at apply`);
  for (const f of result.files) lines.push(`  wrote ${f.path}`);
  const warnings = result.notes.filter((n) => n.severity === 'warning');
  const infos = result.notes.filter((n) => n.severity === 'info');
  if (infos.length > 0) lines.push('', 'not mapped (xops does not model these):', ...infos.map(formatNote));
  if (warnings.length > 0) lines.push('', `to do before applying (${warnings.length}):`, ...warnings.map(formatNote));
  lines.push('', `next: xops validate ${dir}, then xops plan ${dir}; the disks are uploaded by xops apply ${dir}.`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
