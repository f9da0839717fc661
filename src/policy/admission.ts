import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import { newAjv as loadAjv } from '../manifests/ajv.js';
import type { Diagnostic } from '../model/diagnostics.js';
import type { AdmissionRule, DesiredPolicy, DesiredState, RawDocument } from '../model/desired.js';
import { formatPath, locate, pointerSegments, type PathSegment } from './json-path.js';
import { linearRegExp } from './linear-regexp.js';
import { matches } from './match.js';
import { addSizeKeywords } from './size-keywords.js';
import { InvalidWindowError, checkWindow } from './windows.js';

/**
 * Checks every admission rule of every Policy against every document it matches, and the Policies
 * themselves (a `require` schema ajv cannot compile, a window whose schedule or time zone cannot be
 * read). A failing `deny` rule is an error, a failing `warn` rule a warning, both with code
 * `admission`, pointing at the first value ajv objects to (or the document when ajv points at the
 * whole of it). Problems in a Policy's own definition are errors with code `policy`. Pure.
 */
export function checkAdmission(desired: DesiredState): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const rawPolicy = new Map(desired.documents.filter((d) => d.kind === 'Policy').map((d) => [d.name, d]));
  // Made for the first rule: most repositories have none, and a plan then never loads Ajv.
  let ajv: Ajv | undefined;

  for (const policy of desired.policies) {
    const policyDoc = rawPolicy.get(policy.meta.name);
    diagnostics.push(...checkWindows(policy, policyDoc));
    policy.spec.admission.forEach((rule, index) => {
      let validate: ValidateFunction;
      try {
        validate = (ajv ??= newAjv()).compile(rule.require);
      } catch (err) {
        diagnostics.push(
          policyProblem(
            policy,
            policyDoc,
            ['spec', 'admission', index, 'require'],
            `rule ${rule.name}: require is not a usable JSON Schema: ${err instanceof Error ? err.message : String(err)}`,
          ),
        );
        return;
      }
      for (const doc of desired.documents) {
        if (!matches(rule.match, doc)) continue;
        if (validate(doc.body)) continue;
        diagnostics.push(violation(policy, rule, doc, validate.errors?.[0]));
      }
    });
  }
  return diagnostics;
}

/**
 * One Ajv per check: user schemas are compiled leniently (unknown keywords are ignored, not fatal),
 * and their patterns run on a linear-time engine (a Policy is repository content, so hostile).
 */
function newAjv(): Ajv {
  const ajv = loadAjv({ allErrors: false, strict: false, code: { regExp: linearRegExp } }, true);
  addSizeKeywords(ajv);
  return ajv;
}

function violation(policy: DesiredPolicy, rule: AdmissionRule, doc: RawDocument, error: ErrorObject | undefined): Diagnostic {
  const segments = error ? pointerSegments(error.instancePath, doc.body) : [];
  const missing = error?.keyword === 'required' ? (error.params as { missingProperty?: string }).missingProperty : undefined;
  // A missing property has no location of its own; point at the object that lacks it, name the property in the path.
  const pathSegments = missing !== undefined ? [...segments, missing] : segments;
  const diagnostic: Diagnostic = {
    severity: rule.severity === 'deny' ? 'error' : 'warning',
    code: 'admission',
    message: `${rule.message} (Policy/${policy.meta.name} rule ${rule.name})${error ? `: ${detail(error)}` : ''}`,
    location: locate(doc, segments),
    address: doc.address,
  };
  if (pathSegments.length > 0) diagnostic.path = formatPath(pathSegments);
  return diagnostic;
}

/** Ajv's own words, with the allowed values spelled out where ajv keeps them in params. */
function detail(error: ErrorObject): string {
  const message = error.message ?? `fails ${error.keyword}`;
  if (error.keyword === 'enum') {
    const allowed = (error.params as { allowedValues?: unknown[] }).allowedValues;
    if (allowed) return `${message}: ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (error.keyword === 'const') {
    return `${message}: ${JSON.stringify((error.params as { allowedValue?: unknown }).allowedValue)}`;
  }
  return message;
}

function checkWindows(policy: DesiredPolicy, policyDoc: RawDocument | undefined): Diagnostic[] {
  const out: Diagnostic[] = [];
  (policy.spec.automation?.windows ?? []).forEach((window, index) => {
    try {
      checkWindow(window);
    } catch (err) {
      if (!(err instanceof InvalidWindowError)) throw err;
      const field = /duration/.test(err.message) ? 'duration' : /time ?zone/i.test(err.message) ? 'timezone' : 'schedule';
      out.push(
        policyProblem(
          policy,
          policyDoc,
          ['spec', 'automation', 'windows', index, field],
          `maintenance window ${window.name ?? `#${index + 1}`} (${JSON.stringify(window.schedule)}): ${err.message}`,
        ),
      );
    }
  });
  return out;
}

function policyProblem(
  policy: DesiredPolicy,
  policyDoc: RawDocument | undefined,
  segments: PathSegment[],
  message: string,
): Diagnostic {
  return {
    severity: 'error',
    code: 'policy',
    message,
    location: policyDoc ? locate(policyDoc, segments) : policy.meta.source,
    address: `Policy/${policy.meta.name}`,
    path: formatPath(segments),
  };
}
