/** `--metrics` and `--box` on the command line: the numbers under each output's `metrics` in --json, and batch mode's columns and per-method summary. */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, SAMPLES, SQUEEZENET } from '../support/paths';

const CLI = path.join(ROOT, 'dist', 'cli.js');

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('look-closer CLI --metrics', function () {
  this.timeout(600000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lc-metrics-'));
  before(() => {
    execFileSync(process.execPath, [path.join(ROOT, 'esbuild.mjs'), 'cli'], { cwd: ROOT });
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('explain --json puts each asked-for metric under outputs[].metrics, with the curves, and keeps gain where it was', () => {
    const r = cli(['explain', SQUEEZENET, path.join(SAMPLES, 'wm_torch.jpg'), '--method', 'gradcam', '--metrics', 'deletion,confidence,pointing', '--box', '100,50,200,300', '--gain', '--out', path.join(tmp, 'one'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const o = JSON.parse(r.stdout).outputs[0];
    assert.equal(typeof o.gain.drop, 'number');
    assert.deepEqual(Object.keys(o.metrics).sort(), ['confidence', 'deletion', 'pointing']);
    assert.equal(o.metrics.deletion.probs.length, 17);
    assert.equal(o.metrics.deletion.fractions[16], 1);
    assert.equal(typeof o.metrics.confidence.drop, 'number');
    assert.equal(o.metrics.pointing.tolerance, 15);
  });

  it('the text output prints one metrics line per output; bad lists and a lone --box fail with a readable message', () => {
    const r = cli(['explain', SQUEEZENET, path.join(SAMPLES, 'wm_torch.jpg'), '--method', 'gradcam', '--metrics', 'confidence', '--out', path.join(tmp, 'txt')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /metrics: confidence 0\.\d+ → 0\.\d+ \(drop/);
    const bad = cli(['explain', SQUEEZENET, path.join(SAMPLES, 'wm_torch.jpg'), '--method', 'gradcam', '--metrics', 'auc', '--out', path.join(tmp, 'bad')]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Unknown metric 'auc'/);
    const box = cli(['explain', SQUEEZENET, path.join(SAMPLES, 'wm_torch.jpg'), '--method', 'gradcam', '--box', '1,2,3,4', '--out', path.join(tmp, 'bad')]);
    assert.match(box.stderr, /--metrics pointing/);
    const noBox = cli(['explain', SQUEEZENET, path.join(SAMPLES, 'wm_torch.jpg'), '--method', 'gradcam', '--metrics', 'pointing', '--out', path.join(tmp, 'bad')]);
    assert.match(noBox.stderr, /needs --box/);
  });

  it('batch mode: metrics in summary.json outputs, a per-method summary (mean and spread) and a Metrics table in the report', () => {
    const dir = path.join(tmp, 'photos');
    fs.mkdirSync(dir);
    for (const f of ['wm_torch.jpg', 'wm_pelican.jpg']) fs.copyFileSync(path.join(SAMPLES, f), path.join(dir, f));
    const out = path.join(tmp, 'batch');
    const r = cli(['explain', SQUEEZENET, dir, '--method', 'gradcam,cam', '--metrics', 'confidence', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    assert.equal(typeof s.images[0].outputs[0].metrics.confidence.drop, 'number');
    const rows = s.metricSummary.filter((x: { metric: string }) => x.metric === 'averageDrop');
    assert.deepEqual(rows.map((x: { method: string }) => x.method), ['gradcam', 'cam']);
    for (const x of rows) assert.ok(x.n === 2 && x.std >= 0 && x.mean >= 0 && x.mean <= 1 && x.higherIsBetter === false);
    const html = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
    assert.match(html, /<h2>Metrics<\/h2>/);
    assert.match(html, /Average Drop/);
  });
});
