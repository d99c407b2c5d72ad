/**
 * Runs one CLI process and measures it: exit code or signal, output, wall time, and peak resident memory
 * (getrusage's maxrss written by a preloaded module at exit; /proc/<pid>/status VmHWM, polled, when the
 * process is killed before it can write it).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** What one run did. */
export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  /** Peak resident set size in kilobytes (0 when it could not be measured). */
  readonly peakKb: number;
  /** Killed for running past the time limit. */
  readonly timedOut: boolean;
  /** Killed for passing the memory guard. */
  readonly killedForMemory: boolean;
}

const OUTPUT_CAP = 1 << 20;
const PEAK_RSS = path.join(__dirname, 'peak-rss.cjs');

function vmHwmKb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Runs `node cli args…` in `cwd`, killing its process group after `timeoutMs` or above `memoryGuardKb`. */
export function runCli(cli: string, args: readonly string[], cwd: string, timeoutMs: number, memoryGuardKb: number): Promise<RunResult> {
  const rssFile = path.join(cwd, '.peak-rss');
  const env: NodeJS.ProcessEnv = { ...process.env, LC_PEAK_RSS_FILE: rssFile, FORCE_COLOR: '0' };
  // tsx passes its loader to children through NODE_OPTIONS; the CLI must run as users run it.
  delete env.NODE_OPTIONS;
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--require', PEAK_RSS, cli, ...args], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout = (stdout + d).slice(0, OUTPUT_CAP)));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(0, OUTPUT_CAP)));
  let timedOut = false;
  let killedForMemory = false;
  let polled = 0;
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, timeoutMs);
  const poll = setInterval(() => {
    polled = Math.max(polled, vmHwmKb(child.pid!));
    if (polled > memoryGuardKb) {
      killedForMemory = true;
      kill();
    }
  }, 100);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearInterval(poll);
      let peakKb = polled;
      try {
        peakKb = Math.max(peakKb, Number(fs.readFileSync(rssFile, 'utf8')) || 0);
        fs.rmSync(rssFile);
      } catch {
        // Killed before it could write: the polled value stands.
      }
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0, peakKb, timedOut, killedForMemory });
    });
  });
}
