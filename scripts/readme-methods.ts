/** Rewrites README.md's method table from the registry (npm run docs); `--check` exits 1 when the README is stale. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withMethodTable } from '../src/core/methods/method-table';

const file = path.resolve(__dirname, '..', 'README.md');
const current = fs.readFileSync(file, 'utf8');
const next = withMethodTable(current);
if (process.argv.includes('--check')) {
  if (next !== current) {
    console.error('README.md lists other methods than the registry: run `npm run docs`.');
    process.exit(1);
  }
} else if (next !== current) {
  fs.writeFileSync(file, next);
  console.log('README.md: method table updated from the registry.');
}
