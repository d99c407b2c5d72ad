/**
 * Packages the extension (after `tsc -b && node esbuild.mjs --production`):
 * - `tsx scripts/package-vsix.ts` → `look-closer.vsix`, the universal package: the extension host computes on
 *   onnxruntime-web's threaded WASM (no native binaries), every platform and VS Code for the Web.
 * - `tsx scripts/package-vsix.ts --target linux-x64` (or `--platform`: this machine's, skipped where onnxruntime-node
 *   has no binaries) → `look-closer-linux-x64.vsix`,
 *   a platform-specific package (the Marketplace gives each platform its own) that adds onnxruntime-node's binaries
 *   for that platform only: the host's first map and its CPU runtime then run natively (measured in the README:
 *   SqueezeNet's first map 1.8–2.2 s against 2.5–3.3 s on threaded WASM). If the binary does not load there
 *   (an older glibc, say), the host falls back to the threaded WASM that both packages carry.
 * What ships is `.vscodeignore`'s allowlist, plus for a platform the files listed here.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

/** vsce targets onnxruntime-node 1.30 has binaries for, and its folder of them (bin/napi-v6/<os>/<arch>). */
const TARGETS: Readonly<Record<string, string>> = {
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
  'win32-x64': 'win32/x64',
  'win32-arm64': 'win32/arm64',
  'darwin-arm64': 'darwin/arm64',
};

function fail(message: string): never {
  console.error(`package-vsix: ${message}`);
  process.exit(1);
}

function parse(argv: readonly string[]): string | undefined {
  let target: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--platform') {
      target = `${process.platform}-${process.arch}`;
      if (!(target in TARGETS)) {
        console.log(`package-vsix: onnxruntime-node has no binaries for this machine (${target}); only the universal package is built.`);
        process.exit(0);
      }
    }
    else if (a === '--target') target = argv[++i] ?? fail('--target needs a value, e.g. linux-x64');
    else fail(`unknown argument '${a}' (use --target ${Object.keys(TARGETS).join('|')}, or --platform)`);
  }
  if (target !== undefined && !(target in TARGETS)) {
    fail(`onnxruntime-node has no binaries for '${target}'; targets: ${Object.keys(TARGETS).join(', ')} (the universal package, without --target, runs everywhere)`);
  }
  return target;
}

function vsce(args: readonly string[]): void {
  const bin = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'vsce.cmd' : 'vsce');
  execFileSync(bin, ['package', '--skip-license', '--allow-missing-repository', ...args], { cwd: ROOT, stdio: 'inherit' });
}

const target = parse(process.argv.slice(2));
if (target === undefined) {
  vsce(['--no-dependencies', '--out', 'look-closer.vsix']);
} else {
  const ortNode = path.join(ROOT, 'node_modules', 'onnxruntime-node');
  const bin = `bin/napi-v6/${TARGETS[target]}`;
  if (!fs.existsSync(path.join(ortNode, bin, 'onnxruntime_binding.node'))) {
    fail(`node_modules/onnxruntime-node/${bin}/onnxruntime_binding.node is missing: install the optional dependency (npm ci installs it) before packaging for ${target}`);
  }
  // The allowlist plus onnxruntime-node (its JavaScript and this platform's binaries) and onnxruntime-common's
  // CommonJS build, which it requires. vsce lists the production dependencies; the allowlist keeps only these.
  const extra = [
    '!node_modules/onnxruntime-node/package.json',
    '!node_modules/onnxruntime-node/dist/**',
    `!node_modules/onnxruntime-node/${bin}/**`,
    '!node_modules/onnxruntime-common/package.json',
    '!node_modules/onnxruntime-common/dist/cjs/**',
  ];
  const ignore = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'look-closer-vsix-')), '.vscodeignore');
  fs.writeFileSync(ignore, `${fs.readFileSync(path.join(ROOT, '.vscodeignore'), 'utf8').trimEnd()}\n# ${target}: onnxruntime-node\n${extra.join('\n')}\n`);
  try {
    vsce(['--target', target, '--ignoreFile', ignore, '--out', `look-closer-${target}.vsix`]);
  } finally {
    fs.rmSync(path.dirname(ignore), { recursive: true, force: true });
  }
}
