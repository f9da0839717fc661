import { NAME_PATTERN } from '../manifests/schema-kit.js';

const VALID_NAME = new RegExp(NAME_PATTERN);
const MAX_NAME = 63;

/** Whether a text is usable as `metadata.name` as it is. */
export function isValidName(text: string): boolean {
  return VALID_NAME.test(text);
}

/**
 * A manifest name for an XAPI name_label. A valid label is kept exactly; anything else is folded to
 * lower-case ASCII with every run of other characters turned into one dash, trimmed to 63 characters.
 * Empty when nothing usable is left (the caller picks a fallback).
 */
export function sanitiseName(label: string): string {
  if (isValidName(label)) return label;
  const ascii = label.normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
  const dashed = ascii
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-');
  return trimEnds(dashed.slice(0, MAX_NAME));
}

function trimEnds(text: string): string {
  return text.replace(/^[^a-z0-9A-Z]+/, '').replace(/[^a-z0-9A-Z]+$/, '');
}

/**
 * Hands out unique names within one kind. Uniqueness is case-insensitive so that two manifests never
 * map to the same file on a case-insensitive file system (macOS, Windows).
 */
export class NameAllocator {
  private readonly taken = new Set<string>();

  /** `base` if free, else `base-2`, `base-3`... (shortened so the suffix still fits 63 characters). */
  allocate(base: string): string {
    let candidate = base;
    for (let n = 2; this.taken.has(candidate.toLowerCase()); n++) {
      const suffix = `-${n}`;
      candidate = trimEnds(base.slice(0, MAX_NAME - suffix.length)) + suffix;
    }
    this.taken.add(candidate.toLowerCase());
    return candidate;
  }
}
