/**
 * Preloaded (`node --import`) into every process the warm-plan bench times: on exit it writes the
 * process's peak RSS and its longest event-loop stall to the file `XOPS_PROBE_OUT` names.
 */
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const out = process.env.XOPS_PROBE_OUT;
if (out) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  process.on('exit', () => {
    delay.disable();
    writeFileSync(out, JSON.stringify({ maxStallMs: delay.max / 1e6, rssMiB: process.resourceUsage().maxRSS / 1024 }));
  });
}
