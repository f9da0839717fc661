import { dump } from 'js-yaml';
import { yamlCommentText } from '../render/escape.js';
import type { ManifestDoc } from './manifest-doc.js';

/** `../` once per folder level of `file`, to reach the output folder from it. */
function upTo(file: string): string {
  return '../'.repeat(file.split('/').length - 1);
}

/**
 * The file text of one manifest (`schemaFile`: its kind's file under `schemaDir`): the yaml-language-server modeline (so editors check it against its
 * schema), a line saying where it came from, the document, then any trailing comment.
 */
export function renderManifest(doc: ManifestDoc, schemaDir: string, schemaFile: string): string {
  const schema = `${upTo(doc.file)}${schemaDir}/${schemaFile}`;
  let body = dump(doc.body, { lineWidth: -1, noRefs: true });
  for (const [field, comment] of Object.entries(doc.lineComments)) {
    // Top-level spec fields are the lines indented by two spaces under `spec:`.
    const specAt = body.indexOf('\nspec:\n');
    const re = new RegExp(`^(  ${field}:.*)$`, 'm');
    const head = body.slice(0, specAt);
    // The comment is a replacement string: `$` must not reach String.replace's patterns.
    body = head + body.slice(specAt).replace(re, (_line, kept: string) => `${kept}   # ${yamlCommentText(comment)}`);
  }
  const lines = [
    `# yaml-language-server: $schema=${schema}`,
    // Comments hold pool names (`VM 'web' (uuid)`): one line each, whatever the name holds.
    `# Exported by xops export from ${yamlCommentText(doc.source)}.`,
    body.trimEnd(),
    ...doc.trailer.map((line) => `#${line === '' ? '' : ' '}${yamlCommentText(line)}`),
  ];
  return lines.join('\n') + '\n';
}
