// One build script with named targets: cli (node/cjs), extension (node/cjs, vscode external), webview (browser/esm).
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

const args = process.argv.slice(2);
const watch = args.includes('--watch');
const production = args.includes('--production');
const only = args.filter((a) => !a.startsWith('--'));

/** An esbuild plugin that copies files after each build (the onnxruntime wasm pairs for the webview and the runtime thread). */
function copyFiles(from, to, names) {
  return {
    name: 'copy-files',
    setup(build) {
      build.onEnd(() => {
        fs.mkdirSync(to, { recursive: true });
        for (const n of names) fs.copyFileSync(path.join(from, n), path.join(to, n));
      });
    },
  };
}

/**
 * An esbuild plugin that writes a gzip copy (`NAME.gz`) beside each named file in `dir` after each build, when the
 * copy is older than the file: the webview fetches onnxruntime's wasm gzipped (3.7 MB instead of 14 MB through
 * code-server's webview resource loader) and decompresses it into WebAssembly.compileStreaming
 * (webview/ort-runtime.ts).
 */
function gzipFiles(dir, names) {
  return {
    name: 'gzip-files',
    setup(build) {
      build.onEnd(() => {
        for (const n of names) {
          const from = path.join(dir, n);
          const to = `${from}.gz`;
          if (fs.existsSync(to) && fs.statSync(to).mtimeMs >= fs.statSync(from).mtimeMs) continue;
          fs.writeFileSync(to, zlib.gzipSync(fs.readFileSync(from), { level: 9 }));
        }
      });
    },
  };
}

/** Build targets by name. */
const targets = {
  // The CLI and, beside it, ROAD's imputation thread (src/node/thread-imputer.ts starts dist/impute-thread.js).
  cli: {
    entryPoints: { cli: 'src/cli/main.ts', 'impute-thread': 'src/node/impute-thread.ts' },
    outdir: 'dist',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
    // Native and wasm-loading packages stay in node_modules.
    external: ['onnxruntime-web', 'onnxruntime-node', 'sharp'],
  },
  extension: {
    entryPoints: ['src/extension/extension.ts'],
    outfile: 'dist/extension.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
  },
  // The extension host's runtime thread (src/node/ort-thread.ts): onnxruntime-web's Node build bundled, its
  // threaded wasm pair copied beside it (the thread points wasmPaths there); onnxruntime-node is used only where
  // it is installed, so it stays a runtime require.
  'ort-thread': {
    entryPoints: ['src/node/ort-thread.ts'],
    outfile: 'dist/ort-thread.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['onnxruntime-node'],
    plugins: [copyFiles('node_modules/onnxruntime-web/dist', 'dist/ort-node', ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'])],
  },
  webview: {
    entryPoints: { panel: 'webview/panel/main.ts', layers: 'webview/layers/main.ts', batch: 'webview/batch/main.ts', 'ort-worker': 'webview/ort-worker.ts', 'impute-worker': 'webview/impute-worker.ts' },
    outdir: 'dist/webview',
    platform: 'browser',
    format: 'esm',
    target: 'chrome120',
    // onnxruntime-web/webgpu (in the worker) without its wasm glue inlined: the panel fetches the glue (.mjs)
    // and compiles the binary (.wasm) from dist/webview/ort/, where the plugin below copies exactly the two pairs
    // the worker loads: the asyncify pair the WebGPU EP needs, and the plain pair it loads when there is no adapter.
    conditions: ['onnxruntime-web-use-extern-wasm'],
    plugins: [copyFiles('node_modules/onnxruntime-web/dist', 'dist/webview/ort', [
      'ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm',
    ]), gzipFiles('dist/webview/ort', ['ort-wasm-simd-threaded.asyncify.wasm', 'ort-wasm-simd-threaded.wasm'])],
  },
  'extension-tests': {
    entryPoints: ['test/extension/index.ts', 'test/extension/*.test.ts'],
    outdir: 'out/test/extension',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode', 'mocha'],
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
