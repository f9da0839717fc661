import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/controller/logger.js';

describe('controller logger', () => {
  it('writes JSON lines with secrets redacted wherever they sit in the logged object', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = createLogger({ destination });
    log.info(
      { password: 'p1', xapi: { url: 'https://pool', password: 'p2' }, req: { headers: { authorization: 'Basic abc' } }, source: { auth: { token: 't1' } }, webhookSecret: 'w' },
      'connecting',
    );
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]);
    expect(entry.msg).toBe('connecting');
    expect(entry.xapi.url).toBe('https://pool');
    for (const secret of ['p1', 'p2', 'Basic abc', 't1', '"w"']) expect(lines[0]).not.toContain(secret);
    expect(entry.password).toBe('[redacted]');
    expect(entry.req.headers.authorization).toBe('[redacted]');
  });
});
