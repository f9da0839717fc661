/**
 * /status shows each VM's reported IPs: the controller (local folder source) creates a cloud-init VM whose
 * network-config gives it a static address, and the next reconcile's plan carries what its guest reports.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, expect, it } from 'vitest';
import { startController, type RunningController } from '../../src/controller/controller.js';
import { createLogger } from '../../src/controller/logger.js';
import type { ControllerStatus } from '../../src/controller/status.js';
import { disposeVdiContent } from '../../src/sim/vdi-content/handlers.js';
import { LocalSource } from '../../src/source/local-source.js';
import { simWithClient } from '../apply/helpers.js';

const VM = `apiVersion: xops/v1
kind: VM
metadata: {name: web-01}
spec:
  template: Debian Bookworm 12
  vcpus: 1
  memory: 1GiB
  networks:
    - network: Pool-wide network associated with eth0
  cloudInit:
    userData: "#cloud-config\\nhostname: web-01\\n"
    networkConfig:
      version: 1
      config:
        - {type: physical, name: eth0, subnets: [{type: static, address: 192.168.88.5/24}]}
`;

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** Waits, bounded, for the controller to reach a state; each probe is one GET /status. */
async function until(c: RunningController, ok: (s: ControllerStatus) => boolean, timeoutMs = 8000): Promise<ControllerStatus> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = (await (await fetch(`${c.url}/status`)).json()) as ControllerStatus;
    if (ok(s)) return s;
    if (Date.now() > end) throw new Error(`timed out: ${JSON.stringify(s.resources)} ${s.lastError?.message ?? ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

it('lists the static address the guest reports under its VM resource', async () => {
  const e = await simWithClient();
  cleanup.push(e.stop);
  cleanup.push(async () => disposeVdiContent(e.sim.db));
  const dir = mkdtempSync(join(tmpdir(), 'xops-ci-status-'));
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'vm.yaml'), VM);
  const c = await startController({
    source: new LocalSource({ dir, debounceMs: 50 }),
    caller: e.client,
    root: dir,
    listen: { host: '127.0.0.1', port: 0 },
    backoff: { initialMs: 50, maxMs: 200 },
    resyncIntervalMs: 100,
    logger: createLogger({ destination: new Writable({ write: (_c, _e, done) => done() }) }),
  });
  cleanup.push(() => c.stop());
  const s = await until(c, (st) => st.resources.some((r) => r.address === 'VM/web-01' && r.addresses !== undefined));
  expect(s.resources.find((r) => r.address === 'VM/web-01')).toEqual({ address: 'VM/web-01', state: 'synced', addresses: ['192.168.88.5'] });
});
