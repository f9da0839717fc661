import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type RunningController } from '../../src/controller/controller.js';
import { createLogger } from '../../src/controller/logger.js';
import { Registry } from '../../src/controller/metrics.js';
import { PoolMetrics } from '../../src/controller/pool-metrics.js';
import { OBSERVED_CLASSES, type ObservedState, type XapiRecord } from '../../src/model/observed.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { LocalSource } from '../../src/source/local-source.js';
import { XapiClient } from '../../src/xapi/client.js';

/** One sample of the Prometheus text format: name, labels (unescaped) and value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses exposition text (format 0.0.4) the way Prometheus does, label values unescaped (`\\`,
 * `\"`, `\n`): what the test compares is what a scraper would store.
 */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/gy;
    let lm: RegExpExecArray | null;
    let consumed = 0;
    while ((lm = re.exec(body))) {
      labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      consumed = re.lastIndex;
    }
    if (consumed !== body.length) throw new Error(`bad labels in ${JSON.stringify(line)}`);
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

function pick(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

let sim: Simulator;
let client: XapiClient;
let controller: RunningController;
let dir: string;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
  client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops' });
  dir = mkdtempSync(join(tmpdir(), 'xops-pool-metrics-'));
  writeFileSync(join(dir, 'net.yaml'), 'apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: backend\nspec:\n  mtu: 1500\n');
  controller = await startController({
    source: new LocalSource({ dir }),
    caller: client,
    root: dir,
    listen: { host: '127.0.0.1', port: 0 },
    logger: createLogger({ destination: new Writable({ write: (_c, _e, done) => done() }) }),
  });
  await controller.loop.idle();
});
afterAll(async () => {
  await controller?.stop();
  await client?.close();
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function scrape(): Promise<Sample[]> {
  return parseExposition(await (await fetch(`${controller.url}/metrics`)).text());
}

async function records<R = XapiRecord>(cls: string): Promise<Record<string, R>> {
  return client.call<Record<string, R>>(`${cls}.get_all_records`);
}

/** Waits for the controller's event-fed view to show a change, scraping as a Prometheus server would. */
async function untilScraped(what: string, ok: (s: Sample[]) => boolean): Promise<Sample[]> {
  const end = Date.now() + 5000;
  for (;;) {
    const s = await scrape();
    if (ok(s)) return s;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('pool health metrics on /metrics (demo pool)', () => {
  it('equal what XAPI reports for every host and SR', async () => {
    const samples = await scrape();
    const [pool] = Object.values(await records<{ name_label: string; uuid: string; ha_enabled: boolean; ha_host_failures_to_tolerate: string | number }>('pool'));
    const poolName = pool.name_label || pool.uuid;
    const hosts = await records<{ uuid: string; name_label: string; enabled: boolean; metrics: string; cpu_info: Record<string, string>; resident_VMs: string[] }>('host');
    const hostMetrics = await records<{ memory_total: string | number; memory_free: string | number; live: boolean }>('host_metrics');
    const vms = await records<{ is_control_domain: boolean; is_a_template: boolean; is_a_snapshot: boolean; power_state: string }>('VM');
    const srs = await records<{ uuid: string; name_label: string; type: string; physical_size: string | number; physical_utilisation: string | number; PBDs: string[] }>('SR');
    const pbds = await records<{ currently_attached: boolean }>('PBD');
    expect(Object.keys(hosts).length).toBeGreaterThan(1);
    expect(Object.keys(srs).length).toBeGreaterThan(1);

    for (const h of Object.values(hosts)) {
      const labels = { pool: poolName, host: h.name_label, uuid: h.uuid };
      const m = hostMetrics[h.metrics];
      expect(pick(samples, 'xops_host_memory_total_bytes', labels), h.name_label).toBe(Number(m.memory_total));
      expect(pick(samples, 'xops_host_memory_free_bytes', labels), h.name_label).toBe(Number(m.memory_free));
      expect(pick(samples, 'xops_host_live', labels)).toBe(m.live ? 1 : 0);
      expect(pick(samples, 'xops_host_enabled', labels)).toBe(h.enabled ? 1 : 0);
      expect(pick(samples, 'xops_host_cpus', labels)).toBe(Number(h.cpu_info.cpu_count));
      expect(pick(samples, 'xops_host_resident_vms', labels)).toBe(h.resident_VMs.filter((v) => !vms[v].is_control_domain).length);
    }
    for (const sr of Object.values(srs)) {
      const labels = { pool: poolName, sr: sr.name_label, uuid: sr.uuid, type: sr.type };
      expect(pick(samples, 'xops_sr_size_bytes', labels), sr.name_label).toBe(Number(sr.physical_size));
      expect(pick(samples, 'xops_sr_utilisation_bytes', labels)).toBe(Number(sr.physical_utilisation));
      expect(pick(samples, 'xops_sr_free_bytes', labels)).toBe(Number(sr.physical_size) - Number(sr.physical_utilisation));
      expect(pick(samples, 'xops_sr_pbds', labels)).toBe(sr.PBDs.length);
      expect(pick(samples, 'xops_sr_pbds_attached', labels)).toBe(sr.PBDs.filter((p) => pbds[p].currently_attached).length);
    }
    const guests = Object.values(vms).filter((v) => !v.is_a_template && !v.is_a_snapshot && !v.is_control_domain);
    for (const state of ['Running', 'Halted', 'Suspended', 'Paused']) {
      expect(pick(samples, 'xops_vms', { pool: poolName, power_state: state }), state).toBe(guests.filter((v) => v.power_state === state).length);
    }
    expect(pick(samples, 'xops_pool_ha_enabled', { pool: poolName })).toBe(pool.ha_enabled ? 1 : 0);
    expect(pick(samples, 'xops_pool_ha_host_failures_to_tolerate', { pool: poolName })).toBe(Number(pool.ha_host_failures_to_tolerate));

    const pifs = Object.values(await records<{ physical: boolean; metrics: string; host: string; device: string }>('PIF')).filter((p) => p.physical);
    const pifMetrics = await records<{ carrier: boolean }>('PIF_metrics');
    expect(pifs.length).toBeGreaterThan(0);
    for (const p of pifs) {
      expect(pick(samples, 'xops_pif_carrier', { pool: poolName, host: hosts[p.host].name_label, device: p.device })).toBe(pifMetrics[p.metrics].carrier ? 1 : 0);
    }
  });

  it('follow the pool through its event stream, and escape names as the text format requires', async () => {
    const [hostRef] = await client.call<string[]>('host.get_all');
    const hostUuid = await client.call<string>('host.get_uuid', hostRef);
    await client.call('host.disable', hostRef);
    await untilScraped('host disabled', (s) => pick(s, 'xops_host_enabled', { uuid: hostUuid }) === 0);

    const [srRef] = await client.call<string[]>('SR.get_all');
    const srUuid = await client.call<string>('SR.get_uuid', srRef);
    const awkward = 'rack "A"\\shelf\n2';
    await client.call('SR.set_name_label', srRef, awkward);
    await untilScraped('SR renamed', (s) => s.some((x) => x.name === 'xops_sr_size_bytes' && x.labels.uuid === srUuid && x.labels.sr === awkward));
    const text = await (await fetch(`${controller.url}/metrics`)).text();
    expect(text).toContain('sr="rack \\"A\\"\\\\shelf\\n2"');
    // Each sample stays on one line: the newline in the name is sent as \n.
    expect(text.split('\n').every((l) => l === '' || l.startsWith('#') || /^[a-z_]+(\{.*\})? \S+$/.test(l))).toBe(true);
    await client.call('host.enable', hostRef);
  });
});

describe('pool metrics series cap', () => {
  function state(hosts: number): ObservedState {
    const records = Object.fromEntries(OBSERVED_CLASSES.map((c) => [c, new Map()])) as ObservedState['records'];
    records.pool.set('OpaqueRef:p', { uuid: 'p', name_label: 'big', name_description: '', master: '', default_SR: '', tags: [], other_config: {}, ha_enabled: false, ha_host_failures_to_tolerate: 0 });
    for (let i = 0; i < hosts; i++) {
      records.host.set(`OpaqueRef:h${i}`, { uuid: `u${i}`, name_label: `host-${String(i).padStart(2, '0')}`, name_description: '', address: '', enabled: true, PIFs: [], PBDs: [], resident_VMs: [], tags: [], other_config: {} });
    }
    return { token: '', observedAt: '2025-01-01T00:00:00Z', records };
  }

  it('exports at most the cap of objects per metric (first by name) and counts the rest', () => {
    const registry = new Registry();
    const metrics = new PoolMetrics(registry, { maxSeriesPerMetric: 3 });
    metrics.update(state(10));
    const samples = parseExposition(registry.render());
    expect(samples.filter((s) => s.name === 'xops_host_enabled').map((s) => s.labels.host)).toEqual(['host-00', 'host-01', 'host-02']);
    expect(pick(samples, 'xops_pool_metrics_objects_omitted', { class: 'host' })).toBe(7);
  });

  it('drops every pool series when there is no view of the pool (standing by, or not started)', () => {
    const registry = new Registry();
    const metrics = new PoolMetrics(registry);
    metrics.update(state(2));
    metrics.update(undefined);
    expect(parseExposition(registry.render())).toEqual([]);
  });
});
