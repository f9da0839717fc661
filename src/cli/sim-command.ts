import { parseCommandArgs } from './args.js';
import { UserError } from './errors.js';

const USAGE = `usage: xops sim [--port N] [--host 127.0.0.1] [--seed demo|empty|FILE] [--vms N] [--user U --password P]

Starts a simulated XAPI pool (XML-RPC on /, JSON-RPC on /jsonrpc) and runs until interrupted.
  --port N        TCP port (default 0: pick a free one); every host of the pool uses the same port
  --host ADDR     the master's address (default 127.0.0.1); other hosts answer on the next loopback addresses
  --seed S        demo (default: 3 hosts, SRs, networks, templates, 2 VMs), empty, or a JSON seed file
  --vms N         add N VMs (scale-vm-0001...) with disks and VIFs
  --user U        login user (default root)
  --password P    login password (default xops)
  --pools N       N independent pools (pool-1...pool-N) from the same seed, on ports PORT...PORT+N-1
                  (free ones with --port 0), for a fleet (see docs/deploy.md)
Control endpoint (not XAPI): GET/POST/DELETE /_sim/faults, POST /_sim/failover, GET /_sim/stats, POST /_sim/stats/reset`;

interface SimArgs {
  port: number;
  host: string;
  seed: string;
  vms: number;
  user: string;
  password: string;
  pools: number;
}

function count(flag: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) > max) throw new UserError(`${flag} must be an integer between 0 and ${max}, not '${value}'`);
  return Number(value);
}

function parse(argv: string[]): SimArgs | 'help' {
  const { values, positionals, help } = parseCommandArgs(
    argv,
    { pools: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, seed: { type: 'string' }, vms: { type: 'string' }, user: { type: 'string' }, password: { type: 'string' } },
    USAGE,
  );
  if (help) return 'help';
  if (positionals.length > 0) throw new UserError(`sim: unknown option '${positionals[0]}' (see xops sim --help)`);
  const text = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : fallback);
  return {
    port: count('--port', values.port as string | undefined, 0, 65535),
    host: text(values.host, '127.0.0.1'),
    seed: text(values.seed, 'demo'),
    vms: count('--vms', values.vms as string | undefined, 0, 1_000_000),
    user: text(values.user, 'root'),
    password: text(values.password, 'xops'),
    pools: count('--pools', values.pools as string | undefined, 1, 100),
  };
}

/** `xops sim`: starts the simulator and keeps it running until SIGINT/SIGTERM. Resolves with the exit code. */
export async function simCommand(argv: string[]): Promise<number> {
  const args = parse(argv);
  if (args === 'help') return 0;
  const { startSimulators } = await import('../sim/index.js');
  if (args.pools < 1) throw new UserError('--pools must be at least 1');
  let sims;
  try {
    sims = await startSimulators(args.pools, { port: args.port, host: args.host, seed: args.seed, vms: args.vms, user: args.user, password: args.password });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') throw new UserError(`sim: port ${args.port} is already in use on ${args.host}`);
    if (err.code === 'EADDRNOTAVAIL') throw new UserError(`sim: cannot bind ${args.host}`);
    if (err.code === 'ENOENT') throw new UserError(`sim: seed file not found: ${args.seed}`);
    if (e instanceof SyntaxError) throw new UserError(`sim: seed file ${args.seed} is not valid JSON: ${e.message}`);
    throw e;
  }
  for (const sim of sims) {
    const pool = sim.db.record(sim.poolRef);
    process.stdout.write(`XAPI simulator listening on ${sim.url} (user ${args.user}, password ${args.password})\n`);
    const hosts = sim.hostRefs.map((h, i) => `${sim.db.record(h).name_label as string} ${sim.hostUrls[i] || '(no listener)'}`);
    process.stdout.write(`pool "${pool.name_label as string}": ${hosts.join(', ')}; JSON-RPC at ${sim.url}/jsonrpc\n`);
  }
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await Promise.all(sims.map((s) => s.stop()));
  return 0;
}

/** The entry point `src/cli.ts` loads for `xops sim`. */
export const run = simCommand;
