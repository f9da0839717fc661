/**
 * Long pure computations (planning, loading, digesting 10,000 manifests' worth of objects) are
 * written as generators that yield where a caller may let other work run. These drive them: at
 * once, or giving the event loop a turn at each step, so that a controller goes on renewing its
 * lease and answering health checks, and a CLI process does not stall for a second.
 */
export type Steps<T> = Generator<void, T, void>;

/** Runs every step at once. */
export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** Runs the steps, one turn of the event loop (setImmediate) between two. */
export async function runStepsYielding<T>(steps: Steps<T>): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
