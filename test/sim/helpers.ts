import { createRequire } from 'node:module';
import type { Simulator } from '../../src/sim/index.js';

const require = createRequire(import.meta.url);
// The `xmlrpc` package serialises requests and parses replies independently of the simulator's own codec.
const serializer = require('xmlrpc/lib/serializer.js') as { serializeMethodCall(method: string, params: unknown[]): string };
const Deserializer = require('xmlrpc/lib/deserializer.js') as new () => {
  deserializeMethodResponse(stream: NodeJS.ReadableStream, cb: (err: Error | null, value: unknown) => void): void;
};
import { Readable } from 'node:stream';

/** A raw HTTP exchange. */
export interface RawReply {
  status: number;
  contentType: string | null;
  text: string;
}

export async function post(url: string, body: string, contentType: string): Promise<RawReply> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'Content-Type': contentType } });
  return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() };
}

/** Serialises a call with the xmlrpc package. */
export function xmlRequest(method: string, params: unknown[]): string {
  return serializer.serializeMethodCall(method, params);
}

/** Parses a reply with the xmlrpc package (untyped values come back as strings, as any XML-RPC client sees them). */
export function parseXmlReply(text: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    new Deserializer().deserializeMethodResponse(Readable.from([text]), (err, value) => (err ? reject(err) : resolve(value)));
  });
}

/** An XML-RPC call returning XAPI's struct envelope ({Status, Value} / {Status, ErrorDescription}). */
export async function xml(url: string, method: string, ...params: unknown[]): Promise<any> {
  const r = await post(url, xmlRequest(method, params), 'text/xml');
  if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
  return parseXmlReply(r.text);
}

/** An XML-RPC call that must succeed; returns Value. */
export async function xmlOk(url: string, method: string, ...params: unknown[]): Promise<any> {
  const r = await xml(url, method, ...params);
  if (r.Status !== 'Success') throw new Error(`${method} failed: ${JSON.stringify(r.ErrorDescription)}`);
  return r.Value;
}

/** A JSON-RPC 2.0 call; returns the whole reply object. */
export async function json(url: string, method: string, params: unknown[], extra: Record<string, unknown> = { jsonrpc: '2.0' }): Promise<any> {
  const r = await post(`${url}/jsonrpc`, JSON.stringify({ ...extra, method, params, id: 1 }), 'application/json');
  if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
  return JSON.parse(r.text);
}

export async function jsonOk(url: string, method: string, ...params: unknown[]): Promise<any> {
  const r = await json(url, method, params);
  if (r.error) throw new Error(`${method} failed: ${JSON.stringify(r.error)}`);
  return r.result;
}

export async function login(sim: Simulator): Promise<string> {
  return xmlOk(sim.url, 'session.login_with_password', 'root', 'xops', '1.0', 'test');
}

/** Polls a task until it leaves `pending`. */
export async function waitTask(url: string, session: string, task: string): Promise<any> {
  for (let i = 0; i < 200; i++) {
    const rec = await jsonOk(url, 'task.get_record', session, task);
    if (rec.status !== 'pending') return rec;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('task did not finish');
}
