import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalSource } from '../../src/source/local-source.js';
import { LOCAL_DEBOUNCE_MS, manifestFolder, policyManifest, resetWorld, startTestController, startWorld, status, stopWorld, until, vmManifest, vmRecord, writeFiles, type World } from '../e2e/helpers.js';
import { launchChromium } from './browser.js';

let w: World;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let context: BrowserContext;
beforeAll(async () => {
  [w, chromium] = await Promise.all([startWorld(), launchChromium()]);
  context = chromium.context;
});
afterAll(async () => {
  await chromium?.close();
  await stopWorld(w);
});
afterEach(() => resetWorld(w));

/** A page that records every request it makes. */
async function open(url: string): Promise<{ page: Page; requests: string[] }> {
  await context.clearCookies();
  const page = await context.newPage();
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(url);
  return { page, requests };
}

describe('the status page of xops run', () => {
  it('shows every resource with its state, updates live when the pool changes behind xops, and loads nothing from elsewhere', async () => {
    const dir = manifestFolder(w, {
      'web.yaml': vmManifest('page-web', { powerState: 'halted' }),
      'db.yaml': vmManifest('page-db', { powerState: 'halted' }),
      'policy.yaml': policyManifest('drift-report', ['drift: report']),
    });
    const c = await startTestController(w, new LocalSource({ dir, debounceMs: LOCAL_DEBOUNCE_MS }));
    const s = await until('both VMs created', () => status(c), (x) => x.lastReconcile?.result === 'success' && x.resources.length === 2 && x.resources.every((r) => r.state === 'synced'));

    const { page, requests } = await open(`${c.url}/`);
    const rows = page.locator('table[data-section=resources] tbody tr');
    await rows.first().waitFor();
    const shown = await rows.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-address'), tr.getAttribute('data-state')]));
    expect(shown).toEqual(s.resources.map((r) => [r.address, r.state]));
    expect(shown.map(([a]) => a)).toEqual(['VM/page-db', 'VM/page-web']);
    await expect(page.locator('dl.facts').first().innerText()).resolves.toContain(s.commit!);
    // The last plan created both, each labelled with what it costs the workload.
    const planned = await page.locator('table[data-section=plan] tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(planned).toEqual([
      ['VM/page-db', 'create', 'none', '', 'allowed'],
      ['VM/page-web', 'create', 'none', '', 'allowed'],
    ]);
    // A marker on the window proves the update below came without a reload.
    await page.evaluate(() => ((globalThis as unknown as { xopsMarker: number }).xopsMarker = 42));

    const vm = (await vmRecord(w, 'page-web'))!;
    await w.other.call('VM.set_name_description', vm.ref, 'changed behind xops');
    const driftRow = page.locator('table[data-section=drift] tr[data-address="VM/page-web"]');
    await driftRow.waitFor({ timeout: 8000 });
    await expect(driftRow.innerText()).resolves.toContain('spec.description');
    await expect(page.locator('table[data-section=resources] tr[data-address="VM/page-web"]').getAttribute('data-state')).resolves.toBe('held');
    await expect(page.locator('table[data-section=resources] tr[data-address="VM/page-db"]').getAttribute('data-state')).resolves.toBe('synced');
    await expect(page.locator('table[data-section=held] tr[data-address="VM/page-web"]').innerText()).resolves.toContain('drift-report');
    const plan = await page.locator('table[data-section=plan] tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(plan).toEqual([['VM/page-web', 'update (drift)', 'none', 'spec.description ', 'held']]);
    expect(await page.evaluate(() => (globalThis as unknown as { xopsMarker?: number }).xopsMarker)).toBe(42);

    const origin = new URL(c.url).origin;
    expect(requests.length).toBeGreaterThanOrEqual(4); // the page, its script, its style, the event stream
    expect(requests.filter((u) => new URL(u).origin !== origin)).toEqual([]);
    await page.close();
  });

  it('shows a held action with its disruption and the window that releases it', async () => {
    const WEDNESDAY_NOON = new Date('2025-01-01T12:00:00Z');
    const window = ['windows:', '  - name: sunday-night', '    schedule: "0 2 * * SUN"', '    duration: 4h', '    timezone: UTC', '    allow: [reboot]'];
    const dir = manifestFolder(w, { 'vm.yaml': vmManifest('page-window'), 'policy.yaml': policyManifest('nightly', window) });
    const c = await startTestController(w, new LocalSource({ dir, debounceMs: LOCAL_DEBOUNCE_MS }), { now: () => WEDNESDAY_NOON });
    await until('VM created', () => status(c), (x) => x.lastReconcile?.result === 'success');
    const { page } = await open(`${c.url}/`);
    await page.locator('table[data-section=resources] tr[data-address="VM/page-window"][data-state=synced]').waitFor();

    writeFiles(dir, { 'vm.yaml': vmManifest('page-window', { memory: '2GiB' }) });
    const held = page.locator('table[data-section=held] tr[data-address="VM/page-window"]');
    await held.waitFor({ timeout: 8000 });
    const cells = await held.locator('td').allTextContents();
    expect(cells.slice(0, 3)).toEqual(['VM/page-window', 'reboot', 'nightly']);
    expect(cells[3]).toContain('outside maintenance window');
    expect(cells[4]).toMatch(/^the next window, opening /);
    await expect(held.locator('time').getAttribute('datetime')).resolves.toBe('2025-01-05T02:00:00.000Z');
    await expect(page.locator('table[data-section=resources] tr[data-address="VM/page-window"]').getAttribute('data-state')).resolves.toBe('held');
    const plan = await page.locator('table[data-section=plan] tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(plan).toEqual([['VM/page-window', 'update', 'reboot', 'spec.memoryMax spec.memory ', 'held']]);
    await page.close();
  });

  it('shows names from the pool as text: markup in them is not run', async () => {
    const [poolRef] = await w.client.call<string[]>('pool.get_all');
    const before = await w.client.call<string>('pool.get_name_label', poolRef);
    const hostile = '<img src=x onerror="window.xopsPwned=1">demo</h2><script>window.xopsPwned=2</script>';
    await w.client.call('pool.set_name_label', poolRef, hostile);
    w.cleanups.push(() => void w.client.call('pool.set_name_label', poolRef, before));
    const dir = manifestFolder(w, { 'web.yaml': vmManifest('page-hostile', { powerState: 'halted' }) });
    const c = await startTestController(w, new LocalSource({ dir, debounceMs: LOCAL_DEBOUNCE_MS }));
    await until('reconciled', () => status(c), (x) => x.lastReconcile?.result === 'success');

    const { page } = await open(`${c.url}/`);
    await page.locator('section.pool h2').waitFor();
    await expect(page.locator('section.pool h2').innerText()).resolves.toBe(hostile);
    expect(await page.locator('main img, main script').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as { xopsPwned?: number }).xopsPwned)).toBeUndefined();
    await page.close();
  });
});
