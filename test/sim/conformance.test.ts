import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';

/** The slice of Xen Orchestra's `xen-api` client the test drives (the package ships no types). */
interface XapiObject {
  readonly $type: string;
  readonly $ref: string;
  readonly [field: string]: any;
}
interface XoCollection {
  readonly all: Record<string, XapiObject>;
  on(event: 'add' | 'update' | 'remove', cb: (objects: Record<string, XapiObject>) => void): void;
}
interface XenApiClient {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  readonly objects: XoCollection;
  readonly objectsFetched: Promise<void>;
  readonly pool: XapiObject;
  call(method: string, ...args: unknown[]): Promise<any>;
  callAsync(method: string, ...args: unknown[]): Promise<any>;
}
type XapiCtor = new (opts: Record<string, unknown>) => XenApiClient;

let XapiClass: XapiCtor;
let sim: Simulator;

beforeAll(async () => {
  // A computed specifier keeps TypeScript from looking for declarations the package does not have.
  const mod = (await import('xen-api' as string)) as { Xapi: XapiCtor };
  XapiClass = mod.Xapi;
  sim = await startSimulator({ port: 0 });
});
afterAll(() => sim.stop());

function byName(xapi: XenApiClient, type: string, name: string): XapiObject | undefined {
  return Object.values(xapi.objects.all).find((o) => o.$type === type && o.name_label === name);
}

/** Resolves when `pred` holds for the client's cache (which only changes through its event stream). */
function until(pred: () => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = (): void => {
      if (pred()) return resolve();
      if (Date.now() - t0 > 4000) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

for (const transport of ['json-rpc', 'xml-rpc'] as const) {
  describe(`Xen Orchestra's xen-api client over ${transport}`, () => {
    let xapi: XenApiClient;

    beforeAll(async () => {
      xapi = new XapiClass({ url: sim.url, auth: { user: 'root', password: 'xops' }, transport, debounce: 10, allowUnauthorized: true });
      await xapi.connect();
      await xapi.objectsFetched;
    });
    afterAll(() => xapi.disconnect());

    it('loads the whole pool into its object cache', () => {
      expect(xapi.pool.name_label).toBe('demo');
      expect(byName(xapi, 'host', 'xcp-host2')?.address).toBe('127.0.0.2');
      expect(byName(xapi, 'SR', 'pool-nfs')?.shared).toBe(true);
      const web = byName(xapi, 'VM', 'legacy-web01')!;
      expect(web.power_state).toBe('Running');
      // Refs resolve through the cache: $-prefixed fields are followed by the client itself.
      expect(web.$resident_on.name_label).toBe('xcp-host1');
      expect(web.$VBDs[0].$VDI.$SR.name_label).toBe('pool-nfs');
      const counts = Object.values(xapi.objects.all).reduce<Record<string, number>>((acc, o) => ({ ...acc, [o.$type]: (acc[o.$type] ?? 0) + 1 }), {});
      expect(counts.VM).toBe(sim.db.count('VM'));
      expect(counts.PIF).toBe(sim.db.count('PIF'));
    });

    it('clones, provisions, starts, stops and destroys a VM through callAsync and sees each change as events', async () => {
      const seen: string[] = [];
      xapi.objects.on('add', (o) => Object.values(o).forEach((x) => seen.push(`add ${x.$type} ${x.name_label ?? ''}`)));
      xapi.objects.on('update', (o) => Object.values(o).forEach((x) => seen.push(`update ${x.$type} ${x.power_state ?? ''}`)));
      // Removals carry the ids only; the types of removed objects come from what was seen before.
      const typeById = new Map(Object.entries(xapi.objects.all).map(([id, x]) => [id, x.$type]));
      xapi.objects.on('add', (o) => Object.entries(o).forEach(([id, x]) => typeById.set(id, x.$type)));
      xapi.objects.on('remove', (o) => Object.keys(o).forEach((id) => seen.push(`remove ${typeById.get(id)}`)));

      const template = byName(xapi, 'VM', 'Debian Bookworm 12')!;
      const name = `xo-${transport}`;
      const vm: string = await xapi.callAsync('VM.clone', template.$ref, name);
      expect(vm).toMatch(/^OpaqueRef:/);
      await until(() => byName(xapi, 'VM', name) !== undefined, 'the clone in the cache');
      await xapi.callAsync('VM.provision', vm);
      await until(() => byName(xapi, 'VM', name)!.VBDs.length === 1, 'the provisioned disk');
      await xapi.callAsync('VM.start', vm, false, false);
      await until(() => byName(xapi, 'VM', name)!.power_state === 'Running', 'Running');
      expect(byName(xapi, 'VM', name)!.$resident_on.$type).toBe('host');
      expect(byName(xapi, 'VM', name)!.$VBDs[0].currently_attached).toBe(true);
      await xapi.callAsync('VM.clean_shutdown', vm);
      await until(() => byName(xapi, 'VM', name)!.power_state === 'Halted', 'Halted');
      const vdi = byName(xapi, 'VM', name)!.$VBDs[0].VDI as string;
      await xapi.callAsync('VM.destroy', vm);
      await until(() => byName(xapi, 'VM', name) === undefined, 'the VM leaving the cache');
      // VM.destroy keeps disks.
      expect(Object.values(xapi.objects.all).some((o) => o.$ref === vdi)).toBe(true);

      expect(seen).toContain('add VM xo-' + transport);
      expect(seen).toContain('update VM Running');
      expect(seen).toContain('update VM Halted');
      expect(seen).toContain('remove VM');
      expect(seen.some((e) => e.startsWith('add VBD'))).toBe(true);
      expect(seen.some((e) => e.startsWith('add task'))).toBe(true);
    });

    it('reports a failing task as a rejected callAsync with XAPI code and params', async () => {
      const web = byName(xapi, 'VM', 'legacy-web01')!;
      await expect(xapi.callAsync('VM.start', web.$ref, false, false)).rejects.toMatchObject({
        code: 'VM_BAD_POWER_STATE',
        params: [web.$ref, 'halted', 'running'],
      });
    });

    it('sees out-of-band changes made in the simulator', async () => {
      const pool = sim.poolRef;
      sim.db.set(pool, 'name_description', `changed for ${transport}`);
      await until(() => xapi.pool.name_description === `changed for ${transport}`, 'the pool update');
    });
  });
}

describe('xen-api against a pool member', () => {
  it('follows HOST_IS_SLAVE to the master', async () => {
    const xapi = new XapiClass({ url: sim.hostUrls[2], auth: { user: 'root', password: 'xops' }, watchEvents: false, allowUnauthorized: true });
    await xapi.connect();
    expect(xapi.pool.$ref).toBe(sim.poolRef);
    expect(await xapi.call('host.get_address', xapi.pool.master)).toBe('127.0.0.1');
    await xapi.disconnect();
  });
});
