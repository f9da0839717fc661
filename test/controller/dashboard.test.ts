import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/controller/logger.js';
import { ControllerMetrics } from '../../src/controller/metrics.js';
import { OperatorOutputs } from '../../src/controller/outputs.js';
import { PoolMetrics } from '../../src/controller/pool-metrics.js';

describe('docs/grafana-dashboard.json', () => {
  it('queries only metrics the controller exports, so no panel stays empty after a rename', async () => {
    const dashboard = JSON.parse(readFileSync('docs/grafana-dashboard.json', 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
    const metrics = new ControllerMetrics();
    new PoolMetrics(metrics.registry);
    await OperatorOutputs.start({ metrics, logger: createLogger({ destination: new Writable({ write: (_c, _e, done) => done() }) }) });
    const exported = new Set([...metrics.registry.render().matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
    const queried = new Set(dashboard.panels.flatMap((p) => p.targets ?? []).flatMap((t) => [...t.expr.matchAll(/xops_[a-z_]+/g)].map((m) => m[0].replace(/_bucket$/, ''))));
    expect(queried.size).toBeGreaterThan(20);
    expect([...queried].filter((name) => !exported.has(name))).toEqual([]);
  });
});
