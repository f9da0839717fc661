import { randomBytes } from 'node:crypto';
import type { Plan } from '../model/plan.js';

/** The JSON text of each `observed.objects` handed out frozen (plan/context.ts identityObjects). */
const texts = new WeakMap<object, string>();
// Stands in for the objects while the rest is serialised: random, so that no manifest can hold it.
const HOLE = `xops-objects-${randomBytes(16).toString('hex')}`;
const QUOTED_HOLE = JSON.stringify(HOLE);

/** plan-api.ts PlanResponse, as far as this reads it. */
type Result = { plan: Plan } | { invalid: unknown };
type Answer = Result & { base?: Result };

/**
 * `JSON.stringify(answer)`, made faster for what repeats. `observed.objects` is most of a JSON
 * plan's text (an entry per object the plan read: ~60,000, 3 MB at 10,000 VMs), and the planner
 * hands out the same frozen object again while the objects a plan reads are the same ones: its
 * text is made once per such object and put in its place in the rest, which is serialised anew.
 */
export function planAnswerJson(answer: Answer): string {
  const objects: string[] = [];
  const hollow = <R extends Result>(result: R): R => {
    if (!('plan' in result)) return result;
    objects.push(objectsText(result.plan.observed.objects));
    const plan = result.plan;
    return { ...result, plan: { ...plan, observed: { ...plan.observed, objects: HOLE as unknown as Plan['observed']['objects'] } } };
  };
  const text = JSON.stringify({ ...hollow(answer), ...(answer.base ? { base: hollow(answer.base) } : {}) });
  const parts = text.split(QUOTED_HOLE);
  // One hole per plan, in the order serialised (the head's keys come before `base`).
  if (parts.length !== objects.length + 1) return JSON.stringify(answer);
  let out = parts[0]!;
  for (let i = 0; i < objects.length; i++) out += objects[i]! + parts[i + 1]!;
  return out;
}

function objectsText(objects: Plan['observed']['objects']): string {
  if (!Object.isFrozen(objects)) return JSON.stringify(objects);
  let text = texts.get(objects);
  if (text === undefined) texts.set(objects, (text = JSON.stringify(objects)));
  return text;
}
