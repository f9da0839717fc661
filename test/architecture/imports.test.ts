/**
 * Guards the folder layout docs/architecture.md describes: no import cycle between files, the
 * generic engines reach kinds only through the registry, and a kind never reaches into another.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const src = join(root, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import and re-export of each file (type-only ones too), as repository paths. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(src)) {
    const text = readFileSync(file, 'utf8');
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
    const targets: string[] = [];
    for (const stmt of sf.statements) {
      const spec = (ts.isImportDeclaration(stmt) || ts.isExportDeclaration(stmt)) ? stmt.moduleSpecifier : undefined;
      if (!spec || !ts.isStringLiteral(spec) || !spec.text.startsWith('.')) continue;
      targets.push(relative(root, resolve(dirname(file), spec.text.replace(/\.js$/, '.ts'))));
    }
    graph.set(relative(root, file), targets);
  }
  return graph;
}

/** Each cycle found by depth-first search, as the path that closes it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

const graph = importGraph();
const ENGINES = ['src/plan/', 'src/apply/', 'src/export/', 'src/manifests/', 'src/model/'];
const kindOf = (file: string): string | undefined => /^src\/kinds\/([^/]+)\//.exec(file)?.[1];

describe('source layout', () => {
  it('finds the files it checks', () => {
    expect(graph.get('src/plan/index.ts')).toContain('src/kinds/index.ts');
  });

  it('has no import cycle between files', () => {
    // The simulator's generated class table and its hand-written half import each other; that pair
    // is the simulator's own business (it models XAPI, not this pipeline).
    const found = cycles(graph).filter((c) => !c.every((f) => f.startsWith('src/sim/')));
    expect(found.map((c) => c.join(' -> '))).toEqual([]);
  });

  it('lets the engines reach kinds only through the registry', () => {
    const bad: string[] = [];
    for (const [file, targets] of graph) {
      if (!ENGINES.some((e) => file.startsWith(e))) continue;
      for (const t of targets) {
        if (!t.startsWith('src/kinds/') || t === 'src/kinds/index.ts') continue;
        // The data contract assembles DesiredState from each kind's own desired-state types.
        if (file === 'src/model/desired.ts' && /^src\/kinds\/[^/]+\/desired\.ts$/.test(t)) continue;
        bad.push(`${file} -> ${t}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('has no branch on a kind name in the engines', () => {
    const branch = /\bkind\s*[!=]==?\s*'(Pool|Host|Network|SR|VM|VMAppliance|Policy)'|case '(Pool|Host|Network|SR|VM|VMAppliance|Policy)'/;
    const bad: string[] = [];
    for (const file of graph.keys()) {
      if (!ENGINES.some((e) => file.startsWith(e))) continue;
      readFileSync(join(root, file), 'utf8').split('\n').forEach((line, i) => {
        if (branch.test(line)) bad.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(bad).toEqual([]);
  });

  it('keeps each kind out of every other kind\'s folder', () => {
    const bad: string[] = [];
    for (const [file, targets] of graph) {
      const kind = kindOf(file);
      if (!kind) continue;
      for (const t of targets) {
        const other = kindOf(t);
        if (other !== undefined && other !== kind) bad.push(`${file} -> ${t}`);
        if (t === 'src/kinds/index.ts') bad.push(`${file} -> ${t} (a kind must not import the registry)`);
      }
    }
    expect(bad).toEqual([]);
  });
});
