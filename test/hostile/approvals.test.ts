import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run as approveCommand } from '../../src/cli/approve-command.js';
import { UserError } from '../../src/cli/errors.js';
import { startHttpServer } from '../../src/controller/http.js';
import { ControllerMetrics } from '../../src/controller/metrics.js';
import { StatusStore } from '../../src/controller/status.js';
import type { DesiredState } from '../../src/model/desired.js';
import { gatedPlan } from '../../src/plan/pipeline.js';
import { APPROVE_ANNOTATION, approvalHash } from '../../src/policy/approval.js';
import { ApprovalLedger } from '../../src/policy/approval-ledger.js';
import { addVM, addVlanNetwork, basePool, desiredState, live, policy, vm } from '../plan/world.js';

const NOW = new Date('2025-01-01T00:00:00Z');
const LIMITS = { adopt: false, prune: true, destructive: true };
const eth0 = 'Pool-wide network associated with eth0';

/** A pool with network lan still used by web01; the commit drops lan (a destructive delete needing approval). */
function world(approve?: string): { b: ReturnType<typeof basePool>; desired: DesiredState } {
  const b = basePool();
  const lan = addVlanNetwork(b, 'lan', 10);
  addVM(b, { name: 'web01', vifs: [{ network: lan }] });
  const p = policy({ prune: true, approval: ['destructive'] });
  if (approve) p.meta.annotations[APPROVE_ANNOTATION] = approve;
  return { b, desired: desiredState({ vms: [vm('web01', { networks: [{ network: live(eth0) }] })], policies: [p] }) };
}

function gate(ledger: ApprovalLedger, commit: string, approve?: string) {
  const { b, desired } = world(approve);
  const plan = gatedPlan(desired, b.world.state, [], { now: NOW, limits: LIMITS, approvals: ledger.approved(), annotationCounts: ledger.countsAt(commit) });
  ledger.noteHeld(plan, commit);
  const del = plan.actions.find((a) => a.id === 'delete:Network/lan')!;
  return { del, hash: approvalHash(del) };
}

describe('approvals a commit gives itself', () => {
  it('an approval annotation in the same commit as the destructive change does not count; at a later commit it does', async () => {
    const ledger = await ApprovalLedger.open(undefined);
    const { hash } = gate(await ApprovalLedger.open(undefined), 'probe');
    // c1 brings the delete and its own approval: held.
    const first = gate(ledger, 'c1', hash);
    expect(first.del.gate.state).toBe('held');
    expect(first.del.gate).toMatchObject({ reason: expect.stringContaining('an approval in the same change does not count') });
    // A resync at the same commit changes nothing.
    expect(gate(ledger, 'c1', hash).del.gate.state).toBe('held');
    // c2, a later commit still carrying the approval, after the held action could be reviewed: allowed.
    expect(gate(ledger, 'c2', hash).del.gate.state).toBe('allowed');
  });

  it('an action id never approves a destructive change, only the hash of the exact change does', async () => {
    const ledger = await ApprovalLedger.open(undefined);
    gate(ledger, 'c1');
    expect(gate(ledger, 'c2', 'delete:Network/lan').del.gate.state).toBe('held');
  });

  it('without the controller (library use, or approvals.sameChange on) the annotation counts at once', async () => {
    const { b, desired } = world();
    const plan0 = gatedPlan(desired, b.world.state, [], { now: NOW, limits: LIMITS });
    const hash = approvalHash(plan0.actions.find((a) => a.id === 'delete:Network/lan')!);
    const approved = world(hash);
    const plan = gatedPlan(approved.desired, approved.b.world.state, [], { now: NOW, limits: LIMITS });
    expect(plan.actions.find((a) => a.id === 'delete:Network/lan')!.gate.state).toBe('allowed');
  });

  it('an approval recorded through the API counts at once, survives a restart, and only for that exact change', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'xops-ledger-')), 'approvals.json');
    const ledger = await ApprovalLedger.open(file);
    const { hash } = gate(ledger, 'c1');
    ledger.approve(hash);
    await ledger.save();
    const reopened = await ApprovalLedger.open(file);
    expect(gate(reopened, 'c1').del.gate.state).toBe('allowed');
    expect(JSON.parse(await readFile(file, 'utf8')).approved).toEqual([hash]);
    expect(() => reopened.approve('not-a-hash; rm -rf /')).toThrow(/not an approval hash/);
  });
});

describe('xops approve through the controller API', () => {
  it('records the approval only with the approvals token, then the held action is allowed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xops-approve-'));
    const ledger = await ApprovalLedger.open(join(dir, 'approvals.json'));
    const { hash } = gate(ledger, 'c1');
    expect(gate(ledger, 'c1').del.gate.state).toBe('held');
    const TOKEN = 'approvals-token-0123456789abcdef';
    const server = await startHttpServer({
      port: 0, status: new StatusStore('s'), metrics: new ControllerMetrics(),
      // The read token differs: /approve checks its own.
      guard: { token: 'read-token-0123456789abcdef' },
      approve: { token: TOKEN, onApprove: async (h) => { ledger.approve(h); await ledger.save(); } },
    });
    try {
      const good = join(dir, 'token');
      const wrong = join(dir, 'wrong');
      await writeFile(good, TOKEN + '\n');
      await writeFile(wrong, 'read-token-0123456789abcdef\n');
      const refused = await approveCommand([hash, '--server', server.url, '--token-file', wrong]).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(UserError);
      expect((refused as Error).message).toMatch(/refused the approval \(401\)/);
      expect(ledger.approved()).toEqual([]);
      await expect(approveCommand(['zz; DROP', '--server', server.url, '--token-file', good])).rejects.toThrow(/exactly one approval hash/);
      expect(await approveCommand([hash, '--server', server.url, '--token-file', good])).toBe(0);
      expect(ledger.approved()).toEqual([hash]);
      expect(gate(ledger, 'c1').del.gate.state).toBe('allowed');
    } finally {
      await server.close();
    }
  });
});
