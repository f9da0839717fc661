import type { Ajv, SchemaValidateFunction } from 'ajv';
import { parseSize } from '../manifests/units.js';

/**
 * Bytes in a size as manifests write it (a number of bytes, or `512MiB`, `20 GiB`, `100GB`...), read
 * by the loader's own parser so that a rule and the loader never disagree about a size. Undefined when
 * it is not a size.
 */
export function sizeInBytes(value: unknown): number | undefined {
  if (typeof value !== 'number' && typeof value !== 'string') return undefined;
  const parsed = parseSize(value);
  return parsed.ok ? parsed.value : undefined;
}

/**
 * Adds `maxSize` and `minSize` to ajv: admission rules see documents as written, where sizes may be
 * `64GiB` or a byte count, so a plain `maximum` cannot bound them. The keyword's own value is a size
 * in either form; data that is not a size fails the keyword.
 */
export function addSizeKeywords(ajv: Ajv): void {
  const bounds = [
    { keyword: 'maxSize', words: 'must be at most', ok: (size: number, limit: number) => size <= limit },
    { keyword: 'minSize', words: 'must be at least', ok: (size: number, limit: number) => size >= limit },
  ];
  for (const { keyword, words, ok } of bounds) {
    const validate: SchemaValidateFunction = (schema: string | number, data: unknown) => {
      const limit = sizeInBytes(schema);
      const size = sizeInBytes(data);
      if (limit !== undefined && size !== undefined && ok(size, limit)) return true;
      const message = size === undefined ? `is not a size (bytes or e.g. 64GiB)` : `${words} ${String(schema)}`;
      validate.errors = [{ keyword, message, params: { limit: schema } }];
      return false;
    };
    ajv.addKeyword({ keyword, schemaType: ['string', 'number'], errors: true, validate });
  }
}
