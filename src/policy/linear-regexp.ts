import { RE2JS } from 're2js';
import type { RegExpEngine, RegExpLike } from 'ajv/dist/types/index.js';

/**
 * The regular-expression engine admission rules run their `pattern` and `patternProperties` with:
 * RE2 (the pure-JS port `re2js`), whose matching time is linear in the input, so a pattern written in
 * a Policy (`^(a+)+$`) cannot stall the controller on a crafted value the way a backtracking engine
 * can. RE2 has no backreferences or lookaround; a pattern that uses them is refused when the rule is
 * compiled, with a message saying so, and the Policy is reported as unusable rather than run slowly.
 */
export const linearRegExp: RegExpEngine = Object.assign(
  (pattern: string, _flags: string): RegExpLike => {
    let compiled: RE2JS;
    try {
      // JSON Schema patterns are ECMAScript syntax: translate the few spellings RE2 writes otherwise.
      compiled = RE2JS.compile(RE2JS.translateRegExp(pattern));
    } catch (err) {
      throw new Error(`pattern ${JSON.stringify(pattern)} cannot run in linear time (RE2 syntax: no backreferences or lookaround): ${(err as Error).message}`);
    }
    return { test: (s: string) => compiled.test(s) };
  },
  // Only used when ajv writes standalone validation code, which xops never does.
  { code: 'require("re2js").RE2JS' },
);
