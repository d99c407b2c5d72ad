/**
 * Batch throughput: `look-closer explain MODEL DIR` on a folder of N images against the single-image
 * command run once per image (each run is a fresh process: runtime start-up, model load, graph rewrite).
 * Both through the built CLI bundle (dist/cli.js), as a user runs them. The single-image command is timed
 * on `singleRuns` images and its mean wall time stands for each of the N.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const IMAGES = path.join(ROOT, '.cache', 'bench-images');

/** N distinct photos made from the bundled samples (crops, flips, rotations), cached in .cache/bench-images/. */
async function benchImages(n: number): Promise<string> {
  const dir = path.join(IMAGES, String(n));
  if (fs.existsSync(dir) && fs.readdirSync(dir).length === n) return dir;
  fs.mkdirSync(dir, { recursive: true });
  const samples = fs.readdirSync(path.join(ROOT, 'assets', 'samples')).sort().map((f) => path.join(ROOT, 'assets', 'samples', f));
  for (let i = 0; i < n; i++) {
    const src = samples[i % samples.length];
    const meta = await sharp(src).metadata();
    const k = Math.floor(i / samples.length);
    const scale = 0.6 + 0.4 * ((k * 7) % 10) / 10;
    const w = Math.max(32, Math.round(meta.width! * scale));
    const h = Math.max(32, Math.round(meta.height! * scale));
    const left = Math.round(((meta.width! - w) * ((k * 3) % 5)) / 4);
    const top = Math.round(((meta.height! - h) * ((k * 2) % 5)) / 4);
    let img = sharp(src).extract({ left, top, width: w, height: h });
    if (k % 2) img = img.flop();
    if (k % 3 === 2) img = img.rotate(90);
    await img.jpeg({ quality: 90 }).toFile(path.join(dir, `img_${String(i).padStart(3, '0')}.jpg`));
  }
  return dir;
}

/** The same shape as bench.ts's target checks. */
interface Check {
  readonly target: string;
  readonly model: string;
  readonly backend: string;
  readonly value: number;
  readonly limit: number;
  readonly direction: '≤' | '≥';
  readonly met: boolean;
}

/** Times batch mode against the single-image command; one result per backend. */
export async function measureBatch(opts: { model: string; images: number; singleRuns: number; backends: readonly string[]; method?: string; notes: string[] }) {
  process.stderr.write(`Batch throughput: building the CLI, preparing ${opts.images} images…\n`);
  execFileSync(process.execPath, [path.join(ROOT, 'esbuild.mjs'), 'cli'], { cwd: ROOT, stdio: 'inherit' });
  const dir = await benchImages(opts.images);
  const files = fs.readdirSync(dir).sort().map((f) => path.join(dir, f));
  const method = opts.method ?? 'gradcam';
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lc-bench-batch-'));
  const results = [];
  const targets: Check[] = [];
  try {
    for (const backend of opts.backends) {
      const run = (args: string[]) => {
        const t = performance.now();
        const r = spawnSync(process.execPath, [CLI, ...args, '--backend', backend], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`look-closer ${args.join(' ')} failed: ${r.stderr}`);
        return performance.now() - t;
      };
      const single: number[] = [];
      for (let i = 0; i < Math.min(opts.singleRuns, files.length); i++) {
        process.stderr.write(`  single-image command ${i + 1}/${opts.singleRuns} (${backend})\r`);
        single.push(run(['explain', opts.model, files[i], '--method', method, '--out', path.join(tmp, 'single')]));
      }
      process.stderr.write(`\n  batch mode on ${files.length} images (${backend})…\n`);
      const batchMs = run(['explain', opts.model, dir, '--method', method, '--out', path.join(tmp, 'batch')]);
      const summary = JSON.parse(fs.readFileSync(path.join(tmp, 'batch', 'summary.json'), 'utf8')) as { backend: string; explained: number; timings: { load: number } };
      const singleMean = single.reduce((a, b) => a + b, 0) / single.length;
      const singlePerSecond = 1000 / singleMean;
      const batchPerSecond = files.length / (batchMs / 1000);
      results.push({
        backend: summary.backend, method, images: files.length, explained: summary.explained, singleRuns: single.length,
        singleMeanMs: singleMean, singleImagesPerSecond: singlePerSecond, batchWallMs: batchMs, batchImagesPerSecond: batchPerSecond,
        speedup: batchPerSecond / singlePerSecond,
      });
      targets.push({
        target: `batch throughput / single-image command (${method}, ${files.length} images)`, model: path.basename(opts.model), backend: summary.backend,
        value: batchPerSecond / singlePerSecond, limit: 1.3, direction: '≥', met: batchPerSecond / singlePerSecond >= 1.3,
      });
      process.stderr.write(`  ${summary.backend}: single ${singleMean.toFixed(0)} ms/image, batch ${batchPerSecond.toFixed(2)} images/s (${(batchPerSecond / singlePerSecond).toFixed(2)}×)\n`);
    }
  } catch (e) {
    opts.notes.push(`Batch check failed: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { results, targets };
}
