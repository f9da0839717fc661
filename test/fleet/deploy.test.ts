import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { describe, expect, it, vi } from 'vitest';
import { run } from '../../src/cli/run-command.js';
import { parseControllerConfig } from '../../src/config/index.js';

// The files under deploy/ are what operators copy: they must parse, and name only flags `xops run`
// accepts, files the image contains and endpoints the controller serves.
const root = join(import.meta.dirname, '../..');
const deploy = join(root, 'deploy');
type K8s = { kind: string; metadata: { name: string }; spec?: any; data?: Record<string, string>; stringData?: Record<string, string> };
const docs: K8s[] = readdirSync(join(deploy, 'kubernetes')).flatMap((f) => loadAll(readFileSync(join(deploy, 'kubernetes', f), 'utf8')) as K8s[]);
const byKind = (kind: string) => docs.filter((d) => d.kind === kind);

/** Runs the real argument parser over `args` (with --help, so nothing starts): throws on an unknown flag. */
async function acceptedByRun(args: string[]): Promise<number> {
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    return await run([...args, '--help']);
  } finally {
    write.mockRestore();
  }
}

describe('deploy/kubernetes', () => {
  const deployment = byKind('Deployment')[0]!;
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];

  it('runs replicas of xops run with flags it accepts', async () => {
    expect(deployment.spec.replicas).toBeGreaterThan(1);
    expect(container.args[0]).toBe('run');
    await expect(acceptedByRun(container.args.slice(1))).resolves.toBe(0);
  });

  it('probes /healthz and /readyz on the port it listens on', () => {
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    const listen = container.args[container.args.indexOf('--listen') + 1] as string;
    const port = container.ports.find((p: { name: string }) => p.name === container.livenessProbe.httpGet.port).containerPort;
    expect(listen.endsWith(`:${port}`)).toBe(true);
  });

  it('mounts the ConfigMap as the --config file, and every pool password it names comes from the mounted Secret', () => {
    const configPath = container.args[container.args.indexOf('--config') + 1] as string;
    const mount = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === configPath);
    const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
    const configMap = byKind('ConfigMap').find((c) => c.metadata.name === volume.configMap.name)!;
    const config = parseControllerConfig(configMap.data![mount.subPath]!, configPath);
    expect(config.pools.length).toBeGreaterThan(0);

    const secretMount = container.volumeMounts.find((m: { name: string }) => pod.volumes.find((v: any) => v.name === m.name)?.secret);
    const secretName = pod.volumes.find((v: { name: string }) => v.name === secretMount.name).secret.secretName;
    const secret = byKind('Secret').find((s) => s.metadata.name === secretName)!;
    for (const p of config.pools) {
      expect(p.passwordFile?.startsWith(`${secretMount.mountPath}/`), p.name).toBe(true);
      expect(Object.keys(secret.stringData!)).toContain(p.passwordFile!.slice(secretMount.mountPath.length + 1));
    }
  });

  it('has a Service selecting the pods', () => {
    expect(byKind('Service')[0]!.spec.selector).toEqual(deployment.spec.template.metadata.labels);
  });
});

describe('deploy/Containerfile and deploy/systemd', () => {
  const containerfile = readFileSync(join(deploy, 'Containerfile'), 'utf8');

  it('copies only files the repository has, and starts the CLI the build produces', async () => {
    const sources = [...containerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    expect(sources.length).toBeGreaterThan(3);
    for (const s of sources) expect(existsSync(join(root, s)), s).toBe(true);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(containerfile).toContain(`/opt/xops/${Object.values(pkg.bin)[0]!.replace(/^\.\//, '')}`);
    const cmd = JSON.parse(/^CMD (.+)$/m.exec(containerfile)![1]!) as string[];
    await expect(acceptedByRun(cmd.slice(1))).resolves.toBe(0);
  });

  it('the unit starts xops run with flags it accepts', async () => {
    const unit = readFileSync(join(deploy, 'systemd', 'xops.service'), 'utf8');
    const exec = /^ExecStart=(\S+) (\S+) run (.+)$/m.exec(unit)!;
    expect(exec[2]).toMatch(/dist\/src\/cli\.js$/);
    await expect(acceptedByRun(exec[3]!.split(' '))).resolves.toBe(0);
  });
});
