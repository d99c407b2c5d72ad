// One build script with named targets: cli (node/cjs), extension (node/cjs, vscode external), webview (browser/esm).
import * as esbuild from 'esbuild';

const args = process.argv.slice(2);
const watch = args.includes('--watch');
const production = args.includes('--production');
const only = args.filter((a) => !a.startsWith('--'));

/** Build targets by name. */
const targets = {
  cli: {
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/cli.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
    // Native and wasm-loading packages stay in node_modules.
    external: ['onnxruntime-web', 'onnxruntime-node', 'sharp'],
  },
};

const selected = only.length ? only : Object.keys(targets);
for (const name of selected) {
  const t = targets[name];
  if (!t) throw new Error(`Unknown build target '${name}'. Known: ${Object.keys(targets).join(', ')}`);
  const options = { bundle: true, sourcemap: !production, minify: production, logLevel: 'warning', ...t };
  if (watch) await (await esbuild.context(options)).watch();
  else await esbuild.build(options);
}
