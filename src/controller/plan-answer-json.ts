import { randomBytes } from 'node:crypto';
import type { Plan } from '../model/plan.js';

/** The JSON of each `observed.objects` handed out frozen (plan/context.ts identityObjectsSteps), as UTF-8 bytes. */
const texts = new WeakMap<object, Buffer>();
// Stands in for the objects while the rest is serialised: random, so that no manifest can hold it.
const HOLE = `xops-objects-${randomBytes(16).toString('hex')}`;
const QUOTED_HOLE = JSON.stringify(HOLE);

/** plan-api.ts PlanResponse, as far as this reads it. */
type Result = { plan: Plan } | { invalid: unknown };
type Answer = Result & { base?: Result };

/**
 * `JSON.stringify(answer)`, made faster for what repeats, as the chunks to send in order.
 * `observed.objects` is most of a JSON plan's text (an entry per object the plan read: ~60,000,
 * 3 MB at 10,000 VMs), and the planner hands out the same frozen object again while the objects a
 * plan reads are the same ones: its bytes are made once per such object and sent as they are
 * between the rest, which is serialised anew. No answer is joined into one string: at 10,000 VMs
 * that was a 3 MB string and a 3 MB buffer per request, made only to be thrown away.
 */
export function planAnswerChunks(answer: Answer): (string | Buffer)[] {
  const objects: Buffer[] = [];
  const hollow = <R extends Result>(result: R): R => {
    if (!('plan' in result)) return result;
    objects.push(objectsBytes(result.plan.observed.objects));
    const plan = result.plan;
    return { ...result, plan: { ...plan, observed: { ...plan.observed, objects: HOLE as unknown as Plan['observed']['objects'] } } };
  };
  const text = JSON.stringify({ ...hollow(answer), ...(answer.base ? { base: hollow(answer.base) } : {}) });
  const parts = text.split(QUOTED_HOLE);
  // One hole per plan, in the order serialised (the head's keys come before `base`).
  if (parts.length !== objects.length + 1) return [JSON.stringify(answer)];
  const out: (string | Buffer)[] = [parts[0]!];
  for (let i = 0; i < objects.length; i++) out.push(objects[i]!, parts[i + 1]!);
  return out;
}

function objectsBytes(objects: Plan['observed']['objects']): Buffer {
  if (!Object.isFrozen(objects)) return Buffer.from(JSON.stringify(objects));
  let bytes = texts.get(objects);
  if (bytes === undefined) texts.set(objects, (bytes = Buffer.from(JSON.stringify(objects))));
  return bytes;
}
