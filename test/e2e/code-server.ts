/**
 * Starts a real VS Code (code-server, installed by scripts/install-code-server.sh) and a Debian Chromium
 * driven by playwright-core, and stops both with their whole process groups. Shared by the
 * extension-host tier and the end-to-end tier.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Browser, chromium } from 'playwright-core';

/** Repository root. */
export const ROOT = path.resolve(__dirname, '..', '..');
/** code-server version the tiers run against. */
export const CODE_SERVER_VERSION = process.env.CODE_SERVER_VERSION ?? '4.100.3';
/** Where scripts/install-code-server.sh puts it. */
export const CODE_SERVER_BIN = path.join(ROOT, '.vscode-test', `code-server-${CODE_SERVER_VERSION}`, 'node_modules', '.bin', 'code-server');
/** Debian's Chromium. */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** A running code-server. */
export interface CodeServer {
  readonly url: string;
  readonly port: number;
  readonly userDataDir: string;
  readonly extensionsDir: string;
  stop(): Promise<void>;
}

/** Options for a code-server run. */
export interface CodeServerOptions {
  /** Scratch folder for user data, extensions and the log. */
  readonly dir: string;
  /** User settings.json contents. */
  readonly settings?: Record<string, unknown>;
  /** .vsix files to install before starting. */
  readonly vsix?: readonly string[];
}

/** Makes sure code-server is installed (runs the committed installer when it is not). */
export async function ensureCodeServer(): Promise<void> {
  if (fs.existsSync(CODE_SERVER_BIN) && fs.existsSync(path.join(path.dirname(path.dirname(path.dirname(CODE_SERVER_BIN))), '.installed'))) return;
  await run('bash', [path.join(ROOT, 'scripts', 'install-code-server.sh')], { stdio: 'inherit' });
}

function run(cmd: string, args: string[], opts: { stdio?: 'inherit' | 'ignore'; env?: NodeJS.ProcessEnv } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: opts.stdio ?? 'inherit', env: opts.env ?? process.env });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** The gallery points at a closed loopback port so the workbench never queries an external marketplace. */
const NO_GALLERY = JSON.stringify({
  serviceUrl: 'http://127.0.0.1:9/gallery', itemUrl: 'http://127.0.0.1:9/item', resourceUrlTemplate: 'http://127.0.0.1:9/resource/{publisher}/{name}/{version}/{path}',
  controlUrl: '', nlsBaseUrl: '',
});

/** Settings that keep the workbench quiet and deterministic for tests. */
export const QUIET_SETTINGS: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'chat.commandCenter.enabled': false,
  'chat.disableAIFeatures': true,
  'workbench.colorTheme': 'Default Dark Modern',
  'window.zoomLevel': 0,
  'git.enabled': false,
};

function baseEnv(): NodeJS.ProcessEnv {
  return { ...process.env, EXTENSIONS_GALLERY: NO_GALLERY, VSCODE_PROXY_URI: '', DONT_PROMPT_WSL_INSTALL: '1' };
}

function commonArgs(o: { userDataDir: string; extensionsDir: string }): string[] {
  return ['--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--user-data-dir', o.userDataDir, '--extensions-dir', o.extensionsDir];
}

/** Starts code-server in its own process group (setsid) and waits for /healthz. */
export async function startCodeServer(o: CodeServerOptions): Promise<CodeServer> {
  await ensureCodeServer();
  const userDataDir = path.join(o.dir, 'user-data');
  // Extensions are installed outside the repository, so the .vsix runs as users get it: Node's module resolution
  // from inside test-results/ would otherwise find the checkout's node_modules (onnxruntime-node, which the .vsix
  // does not ship). The link in the scratch folder keeps them at hand.
  // LOOK_CLOSER_E2E_NATIVE=1 (for measuring): inside the repository, where the host finds onnxruntime-node as a development checkout does.
  const extensionsDir = process.env.LOOK_CLOSER_E2E_NATIVE === '1'
    ? fs.mkdtempSync(path.join(ROOT, 'test-results', 'extensions-'))
    : fs.mkdtempSync(path.join(os.tmpdir(), 'look-closer-e2e-extensions-'));
  fs.mkdirSync(o.dir, { recursive: true });
  fs.rmSync(path.join(o.dir, 'extensions'), { recursive: true, force: true });
  fs.symlinkSync(extensionsDir, path.join(o.dir, 'extensions'));
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify({ ...QUIET_SETTINGS, ...o.settings }, null, 2));
  for (const v of o.vsix ?? []) {
    await run(CODE_SERVER_BIN, [...commonArgs({ userDataDir, extensionsDir }), '--install-extension', v, '--force'], { stdio: 'inherit', env: baseEnv() });
  }
  const port = await freePort();
  const log = fs.openSync(path.join(o.dir, 'code-server.log'), 'a');
  const child: ChildProcess = spawn(CODE_SERVER_BIN, [
    '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', ...commonArgs({ userDataDir, extensionsDir }),
  ], { detached: true, stdio: ['ignore', log, log], env: baseEnv() });
  fs.closeSync(log);
  const pid = child.pid!;
  let exited = false;
  child.on('exit', () => (exited = true));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`code-server exited during start; see ${path.join(o.dir, 'code-server.log')}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      killGroup(pid, 'SIGKILL');
      throw new Error('code-server did not answer /healthz within 60 s');
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url, port, userDataDir, extensionsDir,
    async stop() {
      killGroup(pid, 'SIGTERM');
      const until = Date.now() + 5000;
      while (!exited && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      // Its file watchers and extension host live in the same group: make sure none is left.
      killGroup(pid, 'SIGKILL');
      const gone = Date.now() + 5000;
      while (groupAlive(pid) && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
      fs.rmSync(extensionsDir, { recursive: true, force: true });
    },
  };
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** Chromium flags that worked here; WebGPU gets SwiftShader's adapter with --enable-unsafe-webgpu. */
export function chromiumArgs(webgpu: boolean): string[] {
  return [
    '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--disable-dev-shm-usage', '--disable-features=Translate,MediaRouter',
    ...(webgpu ? ['--enable-unsafe-webgpu'] : ['--disable-gpu']),
  ];
}

/** Launches Debian Chromium headless. */
export function launchChromium(webgpu: boolean): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: chromiumArgs(webgpu) });
}

/** A fresh scratch folder under test-results/. */
export function scratch(name: string): string {
  const d = path.join(ROOT, 'test-results', name);
  fs.rmSync(d, { recursive: true, force: true });
  fs.mkdirSync(d, { recursive: true });
  return d;
}
