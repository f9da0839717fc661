/**
 * Preloaded (`node --import`) into every process the warm-plan bench times: on exit it writes the
 * process's peak RSS, its longest event-loop stall and the CPU it used to the file `XOPS_PROBE_OUT` names.
 */
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const out = process.env.XOPS_PROBE_OUT;
if (out) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  process.on('exit', () => {
    delay.disable();
    const usage = process.resourceUsage();
    // CPU of every thread of the process (workers and the GC's included): on a loaded machine it
    // moves far less from run to run than wall time does.
    writeFileSync(out, JSON.stringify({ maxStallMs: delay.max / 1e6, rssMiB: usage.maxRSS / 1024, cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000 }));
  });
}
