/** The batch report page escapes every value of a summary, numbers included: "Open Report" renders a summary.json anyone may have written. */
import { strict as assert } from 'node:assert';
import { BatchSummary, escapeHtml, num, renderReportHtml } from '../../src/core/batch-report';
import { resolvePreset } from '../../src/core/preprocess/presets';

const XSS = '<img src=x onerror=alert(1)>';
const SCRIPT = '"><script>alert(2)</script>';

/** A summary as JSON.parse could give it from a crafted file: strings (and worse) where numbers belong. */
function hostileSummary(): BatchSummary {
  const n = XSS as unknown as number;
  const gain = { score: XSS, before: n, after: n, drop: n, probBefore: n, probAfter: n, logitBefore: n, logitAfter: n, erased: n, controlAfter: n };
  return {
    format: 'look-closer-batch', version: 1, model: `models/${XSS}.onnx`, backend: XSS, folder: `photos/${SCRIPT}`,
    methods: ['gradcam', XSS], layer: XSS, target: XSS, classes: null, top: n,
    preprocessing: { ...resolvePreset('torchvision'), source: 'guessed', reason: XSS, inputSize: { height: 224, width: 224 }, layout: 'NCHW' },
    batchSize: n,
    images: [
      {
        input: `photos/${XSS}.jpg`, view: `inputs/${SCRIPT}.png`, ms: n,
        predictions: [{ index: n, label: XSS, score: n }, null as never, { index: 3, label: 'ok', score: 1e300 }],
        outputs: [
          { method: 'gradcam', class: n, label: XSS, layer: XSS, shape: [n], min: n, max: n, png: `maps/${SCRIPT}.png`, npy: `javascript:alert(3)`, gain: gain as never },
          { method: XSS, class: 1, label: SCRIPT, layer: null, shape: [], min: 0, max: 1, png: 'javascript:alert(4)', npy: 'x.npy' },
        ],
      },
      { input: XSS, view: null, predictions: XSS as never, outputs: {} as never, ms: 1, error: XSS },
      42 as never,
    ],
    explained: n, failed: n, timings: { load: n, total: n, perImage: n, imagesPerSecond: n }, report: XSS,
    skipped: [{ method: XSS, reason: SCRIPT }, 'x' as never], cancelled: true,
  };
}

/** Every tag the page has: a crafted value must never add one. */
function tags(html: string): string[] {
  return [...html.matchAll(/<\/?([a-zA-Z][\w-]*)/g)].map((m) => m[1].toLowerCase());
}

describe('report page escaping (src/core/batch-report.ts)', () => {
  it('formats a number only when it is a finite number', () => {
    assert.equal(num(12.345, 1), '12.3');
    assert.equal(num(0), '0');
    for (const v of [XSS, NaN, Infinity, -Infinity, null, undefined, '3', {}, [1]]) assert.equal(num(v), '–', String(v));
  });

  it('escapes text and never throws on a value that is not a string', () => {
    assert.equal(escapeHtml(XSS), '&lt;img src=x onerror=alert(1)&gt;');
    assert.equal(escapeHtml(undefined), '');
    assert.equal(escapeHtml(7), '7');
  });

  for (const resolve of [undefined, (rel: string) => `https://file+.vscode-resource.vscode-cdn.net/report/${rel}`]) {
    it(`renders a crafted summary with no markup of its own surviving (${resolve ? 'webview' : 'browser'} page)`, () => {
      const html = renderReportHtml(hostileSummary(), resolve ? { resolve } : {});
      assert.ok(!html.includes('<img src=x'), 'no <img> from a value');
      assert.ok(!/onerror=/i.test(html.replace(/onerror=alert\(1\)&gt;/g, '')), 'onerror only inside escaped text');
      assert.ok(!html.includes('<script'), 'no <script> from a value');
      assert.ok(!/(href|src)="javascript:/i.test(html), 'no javascript: link');
      assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'), 'the crafted text is shown, escaped');
      // The only tags are the page's own.
      const allowed = new Set(['!doctype', 'html', 'head', 'meta', 'title', 'style', 'body', 'h1', 'div', 'b', 'code', 'p', 'table', 'thead', 'tr', 'th', 'tbody', 'td', 'ol', 'li', 'span', 'img', 'figure', 'figcaption', 'a']);
      for (const t of tags(html)) assert.ok(allowed.has(t), `unexpected tag <${t}>`);
      // Every <img> is one the page made, for a file of the report.
      for (const m of html.matchAll(/<img ([^>]*)>/g)) assert.match(m[1], /^src="[^"<>]*" alt="[^"<>]*" loading="lazy"$/);
      // Numbers that were not numbers show as '–'; class attributes hold only the page's classes.
      assert.ok(html.includes('– images/s'), 'images/s from a crafted value is –');
      for (const m of html.matchAll(/class="([^"]*)"/g)) assert.match(m[1], /^[\w -]*$/);
      assert.ok(html.includes('bar w100'), 'a huge score still gets a bar class of 1..100');
    });
  }
});
