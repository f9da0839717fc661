import { UserError } from './errors.js';

const USAGE = `usage: xops sim [--port N] [--host 127.0.0.1] [--seed demo|empty|FILE] [--vms N] [--user U --password P]

Starts a simulated XAPI pool (XML-RPC on /, JSON-RPC on /jsonrpc) and runs until interrupted.
  --port N        TCP port (default 0: pick a free one); every host of the pool uses the same port
  --host ADDR     the master's address (default 127.0.0.1); other hosts answer on the next loopback addresses
  --seed S        demo (default: 3 hosts, SRs, networks, templates, 2 VMs), empty, or a JSON seed file
  --vms N         add N VMs (scale-vm-0001...) with disks and VIFs
  --user U        login user (default root)
  --password P    login password (default xops)
Control endpoint (not XAPI): GET/POST/DELETE /_sim/faults, POST /_sim/failover, GET /_sim/stats, POST /_sim/stats/reset`;

interface SimArgs {
  port: number;
  host: string;
  seed: string;
  vms: number;
  user: string;
  password: string;
}

function parse(argv: string[]): SimArgs | 'help' {
  const out: SimArgs = { port: 0, host: '127.0.0.1', seed: 'demo', vms: 0, user: 'root', password: 'xops' };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    if (raw === '--help' || raw === '-h') return 'help';
    const eq = raw.indexOf('=');
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    const value = (): string => {
      const v = eq > 0 ? raw.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UserError(`${flag} needs a value`);
      return v;
    };
    const count = (name: string, max: number): number => {
      const v = value();
      if (!/^\d+$/.test(v) || Number(v) > max) throw new UserError(`${name} must be an integer between 0 and ${max}, not '${v}'`);
      return Number(v);
    };
    switch (flag) {
      case '--port':
        out.port = count('--port', 65535);
        break;
      case '--host':
        out.host = value();
        break;
      case '--seed':
        out.seed = value();
        break;
      case '--vms':
        out.vms = count('--vms', 1_000_000);
        break;
      case '--user':
        out.user = value();
        break;
      case '--password':
        out.password = value();
        break;
      default:
        throw new UserError(`sim: unknown option '${raw}' (see xops sim --help)`);
    }
  }
  return out;
}

/** `xops sim`: starts the simulator and keeps it running until SIGINT/SIGTERM. Resolves with the exit code. */
export async function simCommand(argv: string[]): Promise<number> {
  const args = parse(argv);
  if (args === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const { startSimulator } = await import('../sim/index.js');
  let sim;
  try {
    sim = await startSimulator({ port: args.port, host: args.host, seed: args.seed, vms: args.vms, user: args.user, password: args.password });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') throw new UserError(`sim: port ${args.port} is already in use on ${args.host}`);
    if (err.code === 'EADDRNOTAVAIL') throw new UserError(`sim: cannot bind ${args.host}`);
    if (err.code === 'ENOENT') throw new UserError(`sim: seed file not found: ${args.seed}`);
    if (e instanceof SyntaxError) throw new UserError(`sim: seed file ${args.seed} is not valid JSON: ${e.message}`);
    throw e;
  }
  const pool = sim.db.record(sim.poolRef);
  process.stdout.write(`XAPI simulator listening on ${sim.url} (user ${args.user}, password ${args.password})\n`);
  const hosts = sim.hostRefs.map((h, i) => `${sim.db.record(h).name_label as string} ${sim.hostUrls[i] || '(no listener)'}`);
  process.stdout.write(`pool "${pool.name_label as string}": ${hosts.join(', ')}; JSON-RPC at ${sim.url}/jsonrpc\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await sim.stop();
  return 0;
}

/** The entry point `src/cli.ts` loads for `xops sim`. */
export const run = simCommand;
