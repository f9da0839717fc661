import { documentsOf } from '../kinds/contract.js';
import { KIND_REGISTRY } from '../kinds/index.js';
import type { Diagnostic } from '../model/diagnostics.js';
import type { DesiredDocument, DesiredState } from '../model/desired.js';
import { secretUseProblems, XOPS_CREDENTIAL_ENV, type SecretRules, type SecretUse } from '../secrets/index.js';
import type { ControllerConfig } from './types.js';

/**
 * The secret rules the operator's configuration sets, plus the files of xops' own credentials
 * (the XAPI password file, the webhook secret, API tokens) that no commit may ever name.
 */
export function secretRules(config: ControllerConfig, ownCredentialFiles: readonly (string | undefined)[] = []): SecretRules {
  return {
    ...(config.secrets.dir ? { dir: config.secrets.dir } : {}),
    ...(config.secrets.envPrefix ? { envPrefix: config.secrets.envPrefix } : {}),
    forbiddenFiles: [config.approvals.tokenFile, config.http.tokenFile, ...ownCredentialFiles].filter((f): f is string => !!f),
    forbiddenEnv: XOPS_CREDENTIAL_ENV,
  };
}

/** Every secretRef the manifests hold, located at its file:line:col. */
export function secretUsesOf(desired: DesiredState, config: ControllerConfig): SecretUse[] {
  const uses: SecretUse[] = [];
  for (const kind of KIND_REGISTRY) {
    if (!kind.secretUses) continue;
    for (const doc of documentsOf(desired, kind) as DesiredDocument[]) {
      const address = `${doc.kind}/${doc.meta.name}`;
      const raw = desired.documents.find((d) => d.address === address);
      for (const use of kind.secretUses(doc, config.secrets.credentialKeys)) {
        const field = use.ref.env !== undefined ? 'env' : 'file';
        const location = (use.notCredential ? undefined : raw?.locations[`${use.path}.secretRef.${field}`]) ?? raw?.locations[use.path] ?? doc.meta.source;
        uses.push({ address, location, ...use });
      }
    }
  }
  return uses;
}

/**
 * What the operator's configuration refuses in a commit, as errors at their file:line: a secretRef
 * outside the allowed folder or prefix, on a key that holds no credential, or naming xops' own
 * credentials. Pure; the controller rejects the commit, the CLI refuses to plan.
 */
export function operatorChecks(desired: DesiredState, config: ControllerConfig, ownCredentialFiles: readonly (string | undefined)[] = []): Diagnostic[] {
  return secretUseProblems(secretUsesOf(desired, config), secretRules(config, ownCredentialFiles));
}
