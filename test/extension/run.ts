/**
 * Runs the extension-host suite. With LOOK_CLOSER_VSCODE=electron it uses @vscode/test-electron (which
 * downloads VS Code); by default it runs the same suite inside code-server: the web workbench takes
 * extensionDevelopmentPath/extensionTestsPath from its `payload` URL parameter, the suite's run()
 * executes in code-server's Node extension host, and the workbench reports the result through
 * window.codeAutomationExit, which Chromium (playwright-core) exposes to this process.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, launchChromium, scratch, startCodeServer } from '../e2e/code-server';
import { SUITE_PREFIX } from './console-marker';
import { CLI_REPORT, makeWorkspace } from './workspace';

const TESTS = path.join(ROOT, 'out', 'test', 'extension', 'index.js');
const TIMEOUT_MS = Number(process.env.LOOK_CLOSER_TEST_TIMEOUT_MS ?? 15 * 60_000);

async function viaElectron(workspace: string): Promise<number> {
  const { runTests } = await import('@vscode/test-electron');
  return runTests({ extensionDevelopmentPath: ROOT, extensionTestsPath: TESTS, launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'] });
}

async function viaCodeServer(dir: string, workspace: string): Promise<number> {
  const server = await startCodeServer({ dir });
  const browser = await launchChromium(false);
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const exit = new Promise<number>((resolve) => void page.exposeFunction('codeAutomationExit', (code: number) => resolve(code)));
    page.on('console', (m) => {
      // The suite's lines arrive in the workbench log marked with SUITE_PREFIX; the panel's own log lines start with [look-closer].
      const fromWorkbench = /\/workbench\/workbench\.js|\/vs\/code\/browser\//.test(m.location().url ?? '');
      void Promise.all(m.args().map((a) => a.jsonValue().catch(() => String(a)))).then((args) => {
        const text = args.length ? formatConsole(args) : m.text();
        const i = text.indexOf(SUITE_PREFIX);
        if (i >= 0) process.stdout.write(`${text.slice(i + SUITE_PREFIX.length)}\n`);
        else if (!fromWorkbench && (text.includes('[look-closer]') || m.type() === 'error') && !/Failed to load resource/.test(text)) process.stdout.write(`  webview: ${text}\n`);
      });
    });
    const remote = (p: string) => `vscode-remote://127.0.0.1:${server.port}${p}`;
    const payload = [['extensionDevelopmentPath', remote(ROOT)], ['extensionTestsPath', remote(TESTS)]];
    const url = `${server.url}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    // Only the navigation must start: the suite's end is codeAutomationExit, and on a busy machine the workbench's 'load' can take over 30 s.
    await page.goto(url, { waitUntil: 'commit', timeout: 120_000 });
    const timeout = new Promise<number>((resolve) => setTimeout(() => {
      console.error(`extension-host tests did not finish within ${TIMEOUT_MS / 1000} s`);
      resolve(124);
    }, TIMEOUT_MS).unref());
    const code = await Promise.race([exit, timeout]);
    await page.screenshot({ path: path.join(dir, 'extension-host-end.png') }).catch(() => undefined);
    return code;
  } finally {
    await browser.close().catch(() => undefined);
    await server.stop();
  }
}

/** Applies printf-style %s/%d/%o substitutions (in any string argument) and drops %c styles, as the browser console shows them. */
function formatConsole(args: readonly unknown[]): string {
  const out: string[] = [];
  for (let i = 0; i < args.length;) {
    let a = args[i++];
    if (typeof a === 'string' && /%[sdioOfc]/.test(a)) {
      a = a.replace(/%[sdioOfc]/g, (spec) => {
        const v = args[i++];
        return spec === '%c' ? '' : typeof v === 'string' ? v : JSON.stringify(v);
      });
    }
    out.push(typeof a === 'string' ? a : JSON.stringify(a));
  }
  return out.join(' ').replace(/^\s*(\[Extension Host\]\s*)?(INFO|LOG)\s?/, '');
}

async function main(): Promise<number> {
  if (!fs.existsSync(TESTS)) throw new Error(`${path.relative(ROOT, TESTS)} is missing: run 'npm run build' first.`);
  const dir = scratch('extension-host');
  const workspace = makeWorkspace(ROOT, path.join(dir, 'workspace'));
  // The CLI explains the photos folder first (onnxruntime-web wasm in Node, sharp decoding): the Explain
  // Folder test checks the extension's report (onnxruntime-web in the webview, browser decoding) against it.
  const cli = spawnSync(process.execPath, [
    path.join(ROOT, 'dist', 'cli.js'), 'explain', path.join(ROOT, 'assets', 'models', 'squeezenet1.0-fp16-winml.onnx'), path.join(workspace, 'photos'),
    '--method', 'gradcam,guided-backprop', '--gain', '--backend', 'wasm', '--out', path.join(dir, 'fixtures', CLI_REPORT),
  ], { encoding: 'utf8' });
  if (!fs.existsSync(path.join(dir, 'fixtures', CLI_REPORT, 'summary.json'))) throw new Error(`The CLI wrote no report for the photos folder:\n${cli.stdout}\n${cli.stderr}`);
  const t0 = Date.now();
  const code = process.env.LOOK_CLOSER_VSCODE === 'electron' ? await viaElectron(workspace) : await viaCodeServer(dir, workspace);
  console.log(`extension-host tier finished in ${((Date.now() - t0) / 1000).toFixed(1)} s with exit code ${code}`);
  return code;
}

main().then((c) => process.exit(c), (e) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
