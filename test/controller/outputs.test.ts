import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type RunningController } from '../../src/controller/controller.js';
import { createLogger } from '../../src/controller/logger.js';
import type { NotificationEvent } from '../../src/notify/events.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { GitSource } from '../../src/source/git-source.js';
import { XapiClient } from '../../src/xapi/client.js';
import { Receiver, type Received } from '../notify/receiver.js';
import { GitFixture } from '../source/git-fixture.js';

const HMAC_KEY = 'notify-hmac-key-do-not-leak';
const TOKEN = 'glpat-token-do-not-leak';
const NETWORK = (mtu: string) => `apiVersion: xops/v1\nkind: Network\nmetadata:\n  name: backend\nspec:\n  mtu: ${mtu}\n`;

let sim: Simulator;
let client: XapiClient;
let hooks: Receiver;
let gitlab: Receiver;
let fixture: GitFixture;
let controller: RunningController;
const log: string[] = [];

beforeAll(async () => {
  sim = await startSimulator({ port: 0, seed: 'demo' });
  client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops' });
  hooks = await new Receiver().start();
  gitlab = await new Receiver().start();
  gitlab.respond = () => 201;
  fixture = new GitFixture();
});
afterAll(async () => {
  await controller?.stop();
  await hooks?.stop();
  await gitlab?.stop();
  await client?.close();
  await sim?.stop();
  fixture?.cleanup();
});

/** The notifications received so far, each verified against its signature first. */
function notifications(): NotificationEvent[] {
  return hooks.requests.map((r) => {
    const expected = 'sha256=' + createHmac('sha256', HMAC_KEY).update(r.raw).digest('hex');
    expect(r.headers['x-xops-signature-256']).toBe(expected);
    return r.json() as NotificationEvent;
  });
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const end = Date.now() + 5000;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const statuses = (sha: string) => gitlab.requests.filter((r: Received) => r.path.endsWith(`/statuses/${sha}`)).map((r) => (r.json() as { state: string }).state);

describe('operator outputs of a running controller (simulator + git repo + local receivers)', () => {
  it('sets commit statuses, notifies rejected commits, healed drift and a lost lease, and never shows a secret', async () => {
    fixture.write({ 'net.yaml': NETWORK('1500') });
    const good = fixture.commit('network');
    controller = await startController({
      source: new GitSource({ url: fixture.remote, branch: 'main', cacheRoot: fixture.cacheRoot }),
      caller: client,
      root: '.',
      listen: { host: '127.0.0.1', port: 0 },
      leaseHolder: 'outputs-test',
      eventDebounceMs: 10,
      outputs: {
        notify: { url: `${hooks.url}/xops`, format: 'generic', secret: HMAC_KEY },
        commitStatus: { provider: 'gitlab', baseUrl: `${gitlab.url}/api/v4`, project: 'ops/infra', token: TOKEN },
        delivery: { backoff: { initialMs: 10, maxMs: 50 } },
      },
      logger: createLogger({ level: 'debug', destination: new Writable({ write: (c, _e, done) => (log.push(String(c)), done()) }) }),
    });
    await controller.loop.idle();
    await controller.outputs.idle();
    expect(statuses(good)).toEqual(['pending', 'success']);
    expect(gitlab.requests[0].path).toBe(`/api/v4/projects/ops%2Finfra/statuses/${good}`);
    expect(gitlab.requests[0].headers['private-token']).toBe(TOKEN);
    expect(await (await fetch(`${controller.url}/metrics`)).text()).toContain('xops_host_enabled{');

    fixture.write({ 'net.yaml': NETWORK('lots') });
    const bad = fixture.commit('invalid');
    controller.loop.request('webhook');
    await controller.loop.idle();
    await controller.outputs.idle();
    expect(statuses(bad)).toEqual(['pending', 'failed']);
    const rejected = notifications().find((n) => n.type === 'commit-rejected');
    const [poolRef] = await client.call<string[]>('pool.get_all');
    expect(rejected).toMatchObject({ commit: bad, severity: 'error', pool: await client.call<string>('pool.get_name_label', poolRef) });
    expect(rejected?.details[0]).toContain('net.yaml:6:8');

    // Someone changes the managed network behind xops' back: the event stream triggers a heal.
    const [network] = await client.call<string[]>('network.get_by_name_label', 'backend');
    await client.call('network.set_MTU', network, 9000);
    await until('drift healed notification', () => hooks.requests.some((r) => (r.json() as NotificationEvent).type === 'drift-healed'));
    const healed = notifications().find((n) => n.type === 'drift-healed');
    expect(healed?.details).toEqual(['Network/backend: spec.mtu']);

    // Another instance takes the lease over (as after a long pause of this process).
    const [pool] = await client.call<string[]>('pool.get_all');
    await client.call('pool.remove_from_other_config', pool, 'xops.lease');
    await client.call('pool.add_to_other_config', pool, 'xops.lease', `intruder|${new Date(Date.now() + 60_000).toISOString()}`);
    await controller.lease.tick();
    await until('lease-lost notification', () => hooks.requests.some((r) => (r.json() as NotificationEvent).type === 'lease-lost'));
    expect(notifications().find((n) => n.type === 'lease-lost')?.summary).toBe('outputs-test lost the pool lease to intruder; standing by');
    // Standing by, it no longer exports the pool's health: the new holder does.
    expect(await (await fetch(`${controller.url}/metrics`)).text()).not.toContain('xops_host_enabled{');
    await client.call('pool.remove_from_other_config', pool, 'xops.lease');

    const history = await (await fetch(`${controller.url}/history`)).text();
    const shown = [
      log.join(''),
      await (await fetch(`${controller.url}/status`)).text(),
      await (await fetch(`${controller.url}/metrics`)).text(),
      history,
    ].join('\n');
    expect(shown).not.toContain(HMAC_KEY);
    expect(shown).not.toContain(TOKEN);
    expect(shown).toContain('xops_notifications_total{outcome="delivered",sink="webhook"}');
    expect(JSON.parse(history).entries.map((e: { result: string }) => e.result)).toContain('invalid');
  });
});
