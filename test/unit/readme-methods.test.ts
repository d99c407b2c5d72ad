/** The README's method table is the registry's: adding a method without `npm run docs` fails here. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { METHOD_TABLE_MARKERS, methodTableMarkdown, withMethodTable } from '../../src/core/methods/method-table';
import { METHODS } from '../../src/core/methods/registry';
import { ROOT } from '../support/paths';

describe('README method table', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

  it('lists exactly the registered methods, as npm run docs writes them', () => {
    assert.equal(withMethodTable(readme), readme, 'README.md is stale: run `npm run docs`');
    const block = readme.slice(readme.indexOf(METHOD_TABLE_MARKERS.start), readme.indexOf(METHOD_TABLE_MARKERS.end));
    const ids = [...block.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(ids, METHODS.map((m) => m.id));
  });

  it('names each method with its citation and options', () => {
    const table = methodTableMarkdown();
    for (const m of METHODS) {
      assert.ok(table.includes(m.citation.replace(/\|/g, '\\|')), `${m.id}'s citation`);
      for (const o of m.options ?? []) assert.ok(table.includes(`\`--${o.name}\``), `${m.id} option ${o.name}`);
    }
  });
});
