/**
 * No import cycles: every .ts file under src/ and webview/ is parsed for its relative static imports and
 * re-exports (`import`, `import type`, `export … from`, `import x = require(…)`), and Tarjan's algorithm finds
 * the strongly connected components of that graph; any with more than one file (or a file importing itself) fails.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import { ROOT } from '../support/paths';

/** The .ts files under `dir`, recursively. */
function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The module specifiers of a file's import and re-export statements. */
function specifiers(file: string): string[] {
  const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  return sf.statements.flatMap((s) => {
    if ((ts.isImportDeclaration(s) || ts.isExportDeclaration(s)) && s.moduleSpecifier && ts.isStringLiteral(s.moduleSpecifier)) return [s.moduleSpecifier.text];
    if (ts.isImportEqualsDeclaration(s) && ts.isExternalModuleReference(s.moduleReference) && ts.isStringLiteral(s.moduleReference.expression)) return [s.moduleReference.expression.text];
    return [];
  });
}

/** The file a relative specifier names, if it is one of `known`. */
function resolve(from: string, spec: string, known: ReadonlySet<string>): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), spec.replace(/\.js$/, ''));
  return [`${base}.ts`, path.join(base, 'index.ts'), base].find((p) => known.has(p));
}

/** The import graph of `files`: each file's relative imports among them. */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const known = new Set(files);
  return new Map(files.map((f) => [f, [...new Set(specifiers(f).map((s) => resolve(f, s, known)).filter((t): t is string => !!t))]]));
}

/** The cycles of a graph: Tarjan's strongly connected components with more than one node, or a node with an edge to itself. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || graph.get(v)?.includes(v)) out.push(scc.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** A shortest loop from the component's first file back to itself, as "a → b → a". */
function loop(graph: ReadonlyMap<string, readonly string[]>, scc: readonly string[]): string[] {
  const inside = new Set(scc);
  const from = new Map<string, string>();
  const queue = [scc[0]];
  for (let i = 0; i < queue.length; i++) {
    for (const w of graph.get(queue[i]) ?? []) {
      if (w === scc[0]) {
        const route = [queue[i]];
        while (route[0] !== scc[0]) route.unshift(from.get(route[0])!);
        return [...route, scc[0]];
      }
      if (inside.has(w) && !from.has(w)) {
        from.set(w, queue[i]);
        queue.push(w);
      }
    }
  }
  return scc.slice();
}

describe('import cycles', () => {
  it('finds strongly connected components, and only those (hand-made graph)', () => {
    const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a', 'd']], ['d', []], ['e', ['e']], ['f', ['d']]]);
    assert.deepEqual(cycles(g), [['a', 'b', 'c'], ['e']]);
    assert.deepEqual(cycles(new Map([['a', ['b']], ['b', []]])), []);
  });

  it('reads import type, multi-line import lists, side-effect imports and export … from, not comments', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'look-closer-cycles-'));
    try {
      const write = (name: string, text: string) => fs.writeFileSync(path.join(dir, name), text);
      write('a.ts', "import type {\n  B,\n  C,\n} from './b';\nimport { e } from './e';\nexport const a = e;\n");
      write('b.ts', "export * from './c';\n");
      write('c.ts', "// import { a } from './a';\nexport { a } from './a.js';\n");
      write('e.ts', "/* import { a } from './a'; */\nexport const e = 1; // import './a';\n");
      write('d.ts', "import './a';\nimport x = require('./d');\n");
      const files = ['a.ts', 'b.ts', 'c.ts', 'd.ts', 'e.ts'].map((f) => path.join(dir, f));
      const rel = (s: string[][]) => s.map((c) => c.map((f) => path.basename(f)));
      const graph = importGraph(files);
      assert.deepEqual(rel(cycles(graph)), [['a.ts', 'b.ts', 'c.ts'], ['d.ts']]);
      assert.deepEqual(rel([loop(graph, cycles(graph)[0])]), [['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const zones of [['src/core'], ['src', 'webview']]) {
    it(`${zones.join(' and ')} ${zones.length > 1 ? 'have' : 'has'} none`, () => {
      const graph = importGraph(zones.flatMap((z) => tsFiles(path.join(ROOT, z))));
      const rel = (files: readonly string[]) => files.map((f) => path.relative(ROOT, f));
      const named = cycles(graph).map((c) => `${rel(loop(graph, c)).join(' → ')}  (a cycle among ${c.length} files: ${rel(c).join(', ')})`);
      if (named.length) assert.fail(`Import cycles:\n  ${named.join('\n  ')}`);
    });
  }
});
