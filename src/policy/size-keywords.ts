import type { Ajv, SchemaValidateFunction } from 'ajv';

const UNIT_BYTES: Record<string, number> = {
  b: 1,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
  pib: 2 ** 50,
  ki: 2 ** 10,
  mi: 2 ** 20,
  gi: 2 ** 30,
  ti: 2 ** 40,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
};

/**
 * Bytes in a size as manifests write it: a number of bytes, or a string such as `512MiB`, `20 GiB`,
 * `1.5TiB`, `100GB` (binary units Ki..Pi, decimal kB..TB, case-insensitive). Undefined when it is not a size.
 */
export function sizeInBytes(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(value);
  if (!m) return undefined;
  const unit = m[2] === '' ? 1 : UNIT_BYTES[m[2].toLowerCase()];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
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
