/**
 * Takes the README's screenshots of the status page (`npm run screenshots`): the simulator's demo
 * pool under `examples/`, one VM description changed behind xops so the page shows drift, captured
 * in headless Chromium (Debian's /usr/bin/chromium, or XOPS_CHROMIUM) on a desktop and a phone screen.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { chromium } from 'playwright-core';
import { startController } from '../src/controller/controller.js';
import { createLogger } from '../src/controller/logger.js';
import { startSimulator } from '../src/sim/index.js';
import { LocalSource } from '../src/source/local-source.js';
import { XapiClient } from '../src/xapi/client.js';

const OUT = join(import.meta.dirname, '../../docs/img');

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  process.env.XOPS_SECRET_SMB_ARCHIVE_PASSWORD ??= 'demo-only-not-a-real-password';
  const sim = await startSimulator({ port: 0, seed: 'demo' });
  const client = await XapiClient.connect({ url: sim.url, user: 'root', password: 'xops' });
  const logger = createLogger({ destination: new Writable({ write: (_c, _e, done) => done() }) });
  const examples = join(import.meta.dirname, '../../examples');
  const controller = await startController({ source: new LocalSource({ dir: examples }), caller: client, client, root: examples, listen: { host: '127.0.0.1', port: 0 }, logger, resyncIntervalMs: 0 });
  const profile = mkdtempSync(join(tmpdir(), 'xops-screenshots-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.XOPS_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    await until('the first reconcile', async () => controller.status.snapshot().lastReconcile !== undefined);
    const [vm] = await client.call<string[]>('VM.get_by_name_label', 'app-01');
    const reconciles = controller.outputs.history.document().entries.length;
    await client.call('VM.set_name_description', vm, 'changed by hand');
    await until('the drift reconciled', async () => controller.outputs.history.document().entries.length > reconciles);
    mkdirSync(OUT, { recursive: true });
    const page = await context.newPage();
    for (const [file, viewport] of [['status-page.png', { width: 1280, height: 900 }], ['status-page-phone.png', { width: 390, height: 844 }]] as const) {
      await page.setViewportSize(viewport);
      await page.goto(`${controller.url}/`);
      await page.locator('table[data-section=resources]').waitFor();
      await page.screenshot({ path: join(OUT, file), fullPage: file === 'status-page.png' });
      process.stdout.write(`wrote docs/img/${file}\n`);
    }
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
    await controller.stop();
    await client.close();
    await sim.stop();
  }
}

await main();
