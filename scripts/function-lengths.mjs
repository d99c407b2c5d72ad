#!/usr/bin/env node
// Lists the longest functions (lines from signature to closing brace) and the largest files under the given folders.
// Usage: node scripts/function-lengths.mjs [N] [folder ...]   (default: 10 src webview)
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

const args = process.argv.slice(2);
const n = /^\d+$/.test(args[0] ?? '') ? Number(args.shift()) : 10;
const roots = args.length ? args : ['src', 'webview'];
const files = [];
const walk = (d) => {
  for (const f of fs.readdirSync(d)) {
    const p = path.join(d, f);
    if (fs.statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) files.push(p);
  }
};
roots.forEach(walk);
const fns = [];
const sizes = [];
for (const f of files) {
  const text = fs.readFileSync(f, 'utf8');
  sizes.push({ file: f, lines: text.split('\n').length - (text.endsWith('\n') ? 1 : 0) });
  const sf = ts.createSourceFile(f, text, ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart()).line;
      const end = sf.getLineAndCharacterOfPosition(node.end).line;
      let name = node.name?.getText?.() ?? '';
      if (!name && ts.isVariableDeclaration(node.parent)) name = node.parent.name.getText();
      if (!name && ts.isPropertyAssignment(node.parent)) name = node.parent.name.getText();
      fns.push({ file: f, name: name || '(anonymous)', lines: end - start + 1, line: start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
}
fns.sort((a, b) => b.lines - a.lines);
sizes.sort((a, b) => b.lines - a.lines);
console.log('longest functions:');
for (const f of fns.slice(0, n)) console.log(`  ${String(f.lines).padStart(4)}  ${f.name}  ${f.file}:${f.line}`);
console.log('largest files:');
for (const s of sizes.slice(0, n)) console.log(`  ${String(s.lines).padStart(4)}  ${s.file}`);
