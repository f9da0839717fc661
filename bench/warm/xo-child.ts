/**
 * Xen Orchestra's own client (npm `xen-api`) loading the same pool, as a whole process: connect,
 * then wait until every object has been fetched. Usage: `node xo-child.js URL`.
 */
// @ts-expect-error xen-api ships no types
import { createClient } from 'xen-api';

const xapi = createClient({ url: process.argv[2], auth: { user: 'root', password: 'xops' }, allowUnauthorized: true, watchEvents: true });
await xapi.connect();
await xapi.objectsFetched;
process.stdout.write(`${Object.keys(xapi.objects.all).length} objects\n`);
process.exit(0);
