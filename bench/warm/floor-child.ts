/**
 * The floor, as a whole process: log in, fetch one `get_all_records` per class a plan reads, in
 * parallel, and parse them (JSON-RPC: JSON.parse; XML-RPC: the bytes read as text, no decoding, so
 * its floor is a lower bound). Nothing of xops is loaded. Usage: `node floor-child.js URL jsonrpc|xmlrpc`.
 */
import { Agent, request } from 'node:http';
import { OBSERVED_CLASSES } from '../../src/model/observed.js';

const [url, transport] = process.argv.slice(2) as [string, 'jsonrpc' | 'xmlrpc'];
const agent = new Agent({ keepAlive: true, maxSockets: 20 });

function post(path: string, type: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, { method: 'POST', agent, headers: { 'content-type': type } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const json = (method: string, params: unknown[]) => post('/jsonrpc', 'application/json', JSON.stringify({ jsonrpc: '2.0', id: 1, method, params })).then((t) => JSON.parse(t) as { result: unknown });
const xml = (method: string, params: string[]) =>
  post('/', 'text/xml', `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${params.map((p) => `<param><value>${p}</value></param>`).join('')}</params></methodCall>`);

if (transport === 'xmlrpc') {
  const login = await xml('session.login_with_password', ['root', 'xops']);
  const session = /<name>Value<\/name>\s*<value>(?:<string>)?([^<]+)/.exec(login)![1]!;
  await Promise.all(OBSERVED_CLASSES.map((cls) => xml(`${cls}.get_all_records`, [session])));
} else {
  const session = (await json('session.login_with_password', ['root', 'xops'])).result as string;
  await Promise.all(OBSERVED_CLASSES.map((cls) => json(`${cls}.get_all_records`, [session])));
}
agent.destroy();
