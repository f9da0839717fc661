/**
 * The YAML node cap counts a whole file (all its documents, every alias expansion) and the whole
 * commit, not one document: splitting an alias bomb over many documents or many files does not get
 * it past the cap. A refused file loads none of its documents, and the error names the file.
 */
import { describe, expect, it } from 'vitest';
import { loadManifestFiles } from '../../src/manifests/index.js';
import { formatDiagnostic } from '../../src/model/diagnostics.js';

/**
 * One Network document whose alias expansion is `copies * 6` nodes (values count, keys do not). Its
 * extra fields are schema errors; what matters here is what the node cap does before the schema.
 */
function bombDocument(name: string, copies: number): string {
  const refs = Array.from({ length: copies }, () => '*base').join(', ');
  return [
    'apiVersion: xops/v1',
    'kind: Network',
    'metadata:',
    `  name: ${name}`,
    '  labels: {}',
    'spec:',
    '  otherConfig: {}',
    'x-ballast: &base {a: 1, b: 2, c: 3, d: 4, e: 5}',
    `x-copies: [${refs}]`,
  ].join('\n');
}

const file = (path: string, text: string) => ({ path, content: Buffer.from(text) });

describe('the YAML node cap', () => {
  it('counts every document of a file: 40 documents of 300 nodes each pass a 10,000-node file cap', () => {
    // Each document alone is far below the cap; the old per-document count let the file through.
    const text = Array.from({ length: 40 }, (_, i) => bombDocument(`n${i}`, 50)).join('\n---\n');
    const { desired, diagnostics } = loadManifestFiles([file('bomb.yaml', text)], '.', { limits: { maxFileNodes: 10_000 } });
    const errors = diagnostics.filter((d) => d.severity === 'error');
    expect(errors).toHaveLength(1);
    expect(formatDiagnostic(errors[0])).toMatch(/^bomb\.yaml:\d+:\d+: file expands to more than 10000 YAML nodes \(all documents, aliases included\); refusing to load it/);
    // Refused whole: not even the documents before the cap was reached are loaded.
    expect(desired.documents).toEqual([]);
  });

  it('counts every file of a commit: files each under the file cap add up past the commit cap', () => {
    const files = Array.from({ length: 10 }, (_, i) => file(`f${i}.yaml`, bombDocument(`n${i}`, 200)));
    const { desired, diagnostics } = loadManifestFiles(files, '.', { limits: { maxFileNodes: 5_000, maxNodes: 10_000 } });
    const errors = diagnostics.filter((d) => d.code === 'yaml-too-large');
    expect(errors).toHaveLength(1);
    expect(formatDiagnostic(errors[0])).toMatch(/^f\d\.yaml:\d+:\d+: manifests expand to more than 10000 YAML nodes over the commit/);
    // An error anywhere keeps the commit from being applied; the files past the cap are not parsed.
    expect(desired.documents.length).toBeLessThan(10);
  });

  it('loads the same files when the budget allows them', () => {
    const files = Array.from({ length: 3 }, (_, i) => file(`f${i}.yaml`, bombDocument(`n${i}`, 100)));
    const { desired, diagnostics } = loadManifestFiles(files, '.');
    expect(diagnostics.filter((d) => d.code === 'yaml-too-large').map(formatDiagnostic)).toEqual([]);
    expect(desired.documents.map((d) => d.address)).toEqual(['Network/n0', 'Network/n1', 'Network/n2']);
  });
});
