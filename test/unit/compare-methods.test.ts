/** Comparing methods: the ranking, the grid picture, the page (cells, order, escaping), and the CLI's compare mode on SqueezeNet. */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CompareCell, RANK_KEYS, parseRankBy, rankCells, renderCompareGrid, renderCompareHtml } from '../../src/core/compare/compare-methods';
import type { MetricValues } from '../../src/core/metrics/registry';
import { drawText } from '../../src/core/render/text';
import { ROOT, SAMPLES, SQUEEZENET } from '../support/paths';

const curve = (auc: number) => ({ auc, probs: [], fractions: [] } as unknown as NonNullable<MetricValues['deletion']>);
const cell = (method: string, del?: number, ins?: number): CompareCell => ({
  method, title: method.toUpperCase(), png: `${method}.png`,
  metrics: { ...(del !== undefined ? { deletion: curve(del) } : {}), ...(ins !== undefined ? { insertion: curve(ins) } : {}) },
});

describe('compare methods', function () {
  this.timeout(600000);

  it('ranks by the chosen metric in its direction; unmeasured last; ties keep the given order', () => {
    const cells = [cell('a', 0.3, 0.5), cell('b', 0.1, 0.9), cell('c', undefined, 0.2), cell('d', 0.1, 0.7), cell('e', 0.2, NaN)];
    const byDel = rankCells(cells, parseRankBy('deletion'));
    assert.deepEqual(byDel.map((c) => [c.method, c.rank, c.value]), [['b', 1, 0.1], ['d', 2, 0.1], ['e', 3, 0.2], ['a', 4, 0.3], ['c', null, null]]);
    const byIns = rankCells(cells, parseRankBy('insertion'));
    assert.deepEqual(byIns.map((c) => c.method), ['b', 'd', 'a', 'c', 'e']);
    assert.equal(byIns[4].rank, null);
    assert.equal(parseRankBy('confidence').key, 'averageDrop');
    assert.deepEqual(RANK_KEYS.map((k) => k.key), ['deletion', 'insertion', 'road', 'averageDrop', 'increase', 'pointing']);
    assert.throws(() => parseRankBy('auc'), /Unknown ranking metric 'auc'. Available: deletion, insertion/);
  });

  it('the page has one cell per method in ranked order, the ranking metric marked, and escapes every value', () => {
    const evil = '<img src=x onerror=alert(1)>';
    const cells = rankCells([cell('saliency', 0.2, 0.5), { ...cell('gradcam', 0.1, 0.6), title: `Grad "CAM" ${evil}`, png: `a&b/${evil}.png` }], parseRankBy('deletion'));
    const html = renderCompareHtml({
      model: `/m/${evil}.onnx`, input: `/i/${evil}.jpg`, class: 3, label: evil, target: 'logit', layer: evil, rankBy: 'deletion', grid: 'g.png', cells,
      skipped: [{ method: 'cam', reason: evil }],
    });
    assert.ok(!html.includes('<img src=x'), 'no raw markup from values');
    assert.ok(!/onerror=alert\(1\)>/.test(html.replace(/&lt;img src=x onerror=alert\(1\)&gt;/g, '')));
    assert.match(html, /Grad &quot;CAM&quot; &lt;img src=x onerror=alert\(1\)&gt;/);
    assert.match(html, /src="a%26b\/%3Cimg%20src%3Dx%20onerror%3Dalert\(1\)%3E\.png"/);
    const figures = [...html.matchAll(/<figure><div class="rank">#(\d)<\/div>.*?<code>([a-z-]+)<\/code>/g)].map((m) => [m[1], m[2]]);
    assert.deepEqual(figures, [['1', 'gradcam'], ['2', 'saliency']]);
    const rows = [...html.matchAll(/<tr><td>(\d)<\/td><th>([a-z]+)<\/th><td class="key">([\d.]+)<\/td>/g)].map((m) => [m[1], m[2], m[3]]);
    assert.deepEqual(rows, [['1', 'gradcam', '0.100'], ['2', 'saliency', '0.200']]);
    assert.match(html, /Skipped <code>cam<\/code>: &lt;img/);
    assert.match(html, /ranked by <b>Deletion AUC<\/b> \(lower is better\)/);
  });

  it('the grid lays the pictures out in ranked order with captions', () => {
    const red = { width: 4, height: 4, data: new Uint8Array(64).fill(0).map((_, i) => (i % 4 === 0 || i % 4 === 3 ? 255 : 0)) };
    const blue = { width: 4, height: 2, data: new Uint8Array(32).fill(0).map((_, i) => (i % 4 === 2 || i % 4 === 3 ? 255 : 0)) };
    const ranked = rankCells([cell('first', 0.5), cell('second', 0.1)], parseRankBy('deletion'));
    const pics: Record<string, typeof red> = { first: red, second: blue };
    const g = renderCompareGrid(ranked.map((c) => ({ ...c, picture: pics[c.method] })), parseRankBy('deletion'), { cell: 40 });
    assert.equal(g.width, 2 * 40 + 3 * 8);
    assert.equal(g.height, 40 + 46 + 2 * 8);
    const px = (x: number, y: number) => Array.from(g.data.slice((y * g.width + x) * 4, (y * g.width + x) * 4 + 4));
    // Rank 1 (deletion 0.1, the blue 4×2 picture letterboxed to 40×20) first; rank 2 (red) second.
    assert.deepEqual(px(8 + 20, 8 + 20), [0, 0, 255, 255]);
    assert.deepEqual(px(8 + 20, 8 + 2), [255, 255, 255, 255]);
    assert.deepEqual(px(8 + 48 + 20, 8 + 20), [255, 0, 0, 255]);
    // The caption's "#1" is drawn (dark pixels under the first picture).
    let dark = 0;
    for (let y = 8 + 40 + 4; y < 8 + 40 + 18; y++) for (let x = 8; x < 8 + 40; x++) if (px(x, y)[0] < 100) dark++;
    assert.ok(dark > 20, `caption pixels ${dark}`);
  });

  it('draws 5×7 glyphs: "1" by hand', () => {
    const img = { width: 6, height: 7, data: new Uint8Array(6 * 7 * 4) };
    drawText(img, '1', 0, 0, [255, 255, 255]);
    const on = (x: number, y: number) => img.data[(y * 6 + x) * 4] === 255;
    // Glyph '1' columns 0x00, 0x42, 0x7f, 0x40, 0x00: a full stem in column 2, a flag at (1, 1), a foot at (1, 6) and (3, 6).
    for (let y = 0; y < 7; y++) assert.ok(on(2, y));
    assert.ok(on(1, 1) && on(1, 6) && on(3, 6) && !on(0, 3) && !on(4, 3) && !on(1, 3));
  });

  describe('CLI', () => {
    const CLI = path.join(ROOT, 'dist', 'cli.js');
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lc-compare-'));
    const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300000 });
    before(() => {
      execFileSync(process.execPath, [path.join(ROOT, 'esbuild.mjs'), 'cli'], { cwd: ROOT });
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it('explain IMAGE --method a,b,c --rank-by insertion: every method for the top class, ranked, with a grid PNG and a page', () => {
      const out = path.join(tmp, 'cmp');
      const r = cli(['explain', SQUEEZENET, path.join(SAMPLES, 'wm_pelican.jpg'), '--method', 'gradcam,saliency,eigencam', '--metrics', 'confidence', '--rank-by', 'insertion', '--out', out, '--json']);
      assert.equal(r.status, 0, r.stderr);
      const j = JSON.parse(r.stdout);
      assert.equal(j.method, 'gradcam,saliency,eigencam');
      assert.deepEqual(j.methods, ['gradcam', 'saliency', 'eigencam']);
      assert.equal(j.outputs.length, 3);
      assert.equal(j.compare.class, j.predictions[0].index);
      for (const o of j.outputs) {
        assert.equal(o.class, j.compare.class);
        assert.deepEqual(Object.keys(o.metrics).sort(), ['confidence', 'insertion']);
        assert.ok(fs.existsSync(o.png) && fs.existsSync(o.npy));
      }
      const values = j.compare.ranking.map((x: { value: number }) => x.value);
      assert.deepEqual(values, [...values].sort((a: number, b: number) => b - a));
      for (const x of j.compare.ranking) assert.equal(x.value, j.outputs.find((o: { method: string }) => o.method === x.method).metrics.insertion.auc);
      assert.equal(j.compare.rankBy, 'insertion');
      assert.equal(j.compare.higherIsBetter, true);
      const png = fs.readFileSync(j.compare.png);
      assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
      assert.equal(png.readUInt32BE(16), 3 * 224 + 4 * 8);
      const html = fs.readFileSync(j.compare.html, 'utf8');
      const order = [...html.matchAll(/<figure><div class="rank">#\d<\/div>.*?<code>([a-z-]+)<\/code>/g)].map((m) => m[1]);
      assert.deepEqual(order, j.compare.ranking.map((x: { method: string }) => x.method));
      // The comparison's maps share the substrate passes and identical curves: each cell's numbers are those of the method alone.
      const alone = cli(['explain', SQUEEZENET, path.join(SAMPLES, 'wm_pelican.jpg'), '--method', 'saliency', '--metrics', 'insertion', '--out', path.join(tmp, 'alone'), '--json']);
      assert.equal(alone.status, 0, alone.stderr);
      assert.deepEqual(JSON.parse(alone.stdout).outputs[0].metrics.insertion, j.outputs.find((o: { method: string }) => o.method === 'saliency').metrics.insertion);
    });

    it('single-method explain keeps its --json shape; --rank-by alone and two classes are refused', () => {
      const r = cli(['explain', SQUEEZENET, path.join(SAMPLES, 'wm_pelican.jpg'), '--method', 'gradcam', '--out', path.join(tmp, 'one'), '--json']);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(Object.keys(JSON.parse(r.stdout)), ['model', 'input', 'backend', 'preprocessing', 'predictions', 'method', 'layer', 'target', 'outputs', 'timings']);
      const lone = cli(['explain', SQUEEZENET, path.join(SAMPLES, 'wm_pelican.jpg'), '--method', 'gradcam', '--rank-by', 'road', '--out', path.join(tmp, 'x')]);
      assert.equal(lone.status, 2);
      assert.match(lone.stderr, /--rank-by ranks the methods of a comparison/);
      const two = cli(['explain', SQUEEZENET, path.join(SAMPLES, 'wm_pelican.jpg'), '--method', 'gradcam,cam', '--class', '1,2', '--out', path.join(tmp, 'x')]);
      assert.equal(two.status, 2);
      assert.match(two.stderr, /one class/);
      const bad = cli(['explain', SQUEEZENET, path.join(SAMPLES, 'wm_pelican.jpg'), '--method', 'all', '--rank-by', 'auc', '--out', path.join(tmp, 'x')]);
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /Unknown ranking metric 'auc'/);
    });

    it('sanity --json: per-step arrays, the control class, the flag; bad values are usage errors', () => {
      const r = cli(['sanity', SQUEEZENET, path.join(SAMPLES, 'wm_pelican.jpg'), '--method', 'gradcam,edge-detector', '--cascade-steps', '1', '--json']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /sanity: 6\/6 edge-detector: step 1\/1 \(26 of 26 layers random\)/);
      const j = JSON.parse(r.stdout);
      assert.equal(j.class, j.predictions[0].index);
      assert.equal(j.layers.length, 26);
      assert.deepEqual(j.steps, [{ randomised: 26, deepest: j.layers[25] }]);
      const [gc, edges] = j.methods;
      for (const k of ['spearmanAbs', 'spearmanSigned', 'ssim']) assert.equal(gc.cascade[k].length, 1);
      assert.ok(gc.cascade.spearmanAbs[0] < 0.5);
      assert.equal(gc.flagged, false);
      assert.equal(edges.flagged, true);
      assert.notEqual(gc.labelControl.class, j.class);
      assert.equal(typeof gc.labelControl.label, 'string');
      const bad = cli(['sanity', SQUEEZENET, path.join(SAMPLES, 'wm_pelican.jpg'), '--method', 'gradcam', '--flag-above', '2']);
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /--flag-above must be a correlation between -1 and 1/);
    });
  });
});
