/** Every webview page's HTML and Content-Security-Policy, as the one builder (src/extension/webview-html.ts) writes them. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../support/paths';
import { strict as assert } from 'node:assert';
import type { BatchSummary } from '../../src/core/batch-report';
import { PAGES, ScriptPage, contentSecurityPolicy, nonce, reportPageHtml, scriptPageHtml, startFiles } from '../../src/extension/webview-html';
import { PAIRS, WORKER } from '../../webview/ort-runtime';

const nodeCrypto = require('node:crypto') as typeof import('node:crypto');

import { resolvePreset } from '../../src/core/preprocess/presets';
/** What `webview.cspSource` is in VS Code 1.100. */
const CSP_SOURCE = 'https://file+.vscode-resource.vscode-cdn.net';
const RESOURCE = `${CSP_SOURCE}/ext`;

const SUMMARY: BatchSummary = {
  format: 'look-closer-batch', version: 1, model: 'squeezenet.onnx', backend: 'onnxruntime-web WASM', folder: 'photos',
  methods: ['gradcam'], layer: 'conv10', target: 'logit', classes: null, top: 1, preprocessing: { ...resolvePreset('torchvision'), source: 'guessed', reason: 'three-channel input', inputSize: { height: 224, width: 224 }, layout: 'NCHW' }, batchSize: 1,
  images: [
    {
      input: 'photos/cat.jpg', view: 'inputs/cat.png', ms: 12,
      predictions: [{ index: 281, label: 'tabby', score: 0.9 }],
      outputs: [{ method: 'gradcam', class: 281, label: 'tabby', layer: 'conv10', shape: [13, 13], min: 0, max: 1, png: 'maps/cat_gradcam_c281.png', npy: 'maps/cat_gradcam_c281.npy' }],
    },
    { input: 'photos/broken.jpg', view: null, predictions: [], outputs: [], ms: 1, error: 'Cannot decode' },
  ],
  explained: 1, failed: 1, timings: { load: 10, total: 20, perImage: 10, imagesPerSecond: 100 }, report: 'index.html',
};

function unescape(s: string): string {
  return s.replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** The page's CSP, from its meta tag, as directive → sources. */
function cspOf(html: string): Map<string, string[]> {
  const metas = [...html.matchAll(/<meta http-equiv="Content-Security-Policy" content="([^"]*)">/g)];
  assert.equal(metas.length, 1, 'exactly one CSP meta tag');
  assert.ok(html.indexOf(metas[0][0]) < html.search(/<(link|style|script)\b/), 'the CSP comes before anything it governs');
  const map = new Map<string, string[]>();
  for (const d of unescape(metas[0][1]).split(';').map((x) => x.trim()).filter(Boolean)) {
    const [name, ...sources] = d.split(/\s+/);
    assert.ok(!map.has(name), `${name} given once`);
    map.set(name, sources);
  }
  return map;
}

function scriptPage(page: ScriptPage, n?: string): string {
  return scriptPageHtml(page, 'A <title>', { cspSource: CSP_SOURCE, script: `${RESOURCE}/dist/webview/${page.script}`, style: `${RESOURCE}/media/${page.style}`, bundles: `${RESOURCE}/dist/webview/` }, n);
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

describe('webview pages and their Content-Security-Policy', () => {
  const pages = Object.entries(PAGES) as [string, ScriptPage][];

  it('has the panel, Layers and folder pages, and only the panel and folder pages run onnxruntime', () => {
    assert.deepEqual(pages.map(([k, p]) => `${k}:${p.runsOnnx}`), ['panel:true', 'layers:false', 'folder:true']);
  });

  for (const [name, page] of pages) {
    it(`${name}: default-src 'none', its one script only by nonce, 'wasm-unsafe-eval' only when it runs onnxruntime`, () => {
      const html = scriptPage(page);
      const csp = cspOf(html);
      assert.deepEqual(csp.get('default-src'), ["'none'"]);
      const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]);
      assert.equal(scripts.length, 1);
      const n = /nonce="([^"]+)"/.exec(scripts[0])?.[1];
      assert.ok(n && n.length >= 32 && BASE64.test(n), `nonce ${n}`);
      assert.ok(scripts[0].includes(`src="${RESOURCE}/dist/webview/${page.script}"`));
      const allowed = page.runsOnnx ? [`'nonce-${n}'`, "'wasm-unsafe-eval'", 'blob:'] : [`'nonce-${n}'`];
      assert.deepEqual(csp.get('script-src'), allowed);
      assert.equal([...csp.values()].flat().includes("'wasm-unsafe-eval'"), page.runsOnnx);
      for (const bad of ["'unsafe-inline'", "'unsafe-eval'", '*', "'self'", 'https:', 'http:']) {
        assert.ok(![...csp.values()].flat().includes(bad), `no ${bad}`);
      }
      assert.deepEqual(csp.get('img-src'), [CSP_SOURCE, 'blob:', 'data:'], 'icons from the extension, canvases as blobs and data URLs');
      assert.deepEqual(csp.get('style-src'), [CSP_SOURCE], 'the stylesheet from the extension, no inline styles');
      assert.deepEqual(csp.get('worker-src'), page.runsOnnx ? ['blob:'] : ["'none'"]);
      assert.deepEqual(csp.get('connect-src'), page.runsOnnx ? [CSP_SOURCE] : ["'none'"]);
      assert.ok(!/\son[a-z]+=/.test(html), 'no inline event handlers');
      assert.ok(html.includes('<title>A &lt;title&gt;</title>'), 'the title is escaped');
    });
  }

  it('the report page runs no script: script-src, worker-src and connect-src none, no <script>, its stylesheet by nonce, images through webview URIs', () => {
    const html = reportPageHtml(SUMMARY, CSP_SOURCE, (rel) => `${CSP_SOURCE}/report/${rel}`);
    const csp = cspOf(html);
    assert.deepEqual(csp.get('default-src'), ["'none'"]);
    for (const d of ['script-src', 'worker-src', 'connect-src']) assert.deepEqual(csp.get(d), ["'none'"], d);
    assert.ok(!/<script\b/i.test(html) && !/\son[a-z]+=/i.test(html));
    assert.ok(!html.includes('wasm-unsafe-eval'));
    const styles = [...html.matchAll(/<style nonce="([^"]+)">/g)].map((m) => m[1]);
    assert.equal(styles.length, 1);
    assert.ok(styles[0].length >= 32 && BASE64.test(styles[0]));
    assert.deepEqual(csp.get('style-src'), [`'nonce-${styles[0]}'`]);
    assert.deepEqual(csp.get('img-src'), [CSP_SOURCE]);
    const srcs = [...html.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(srcs, [`${CSP_SOURCE}/report/inputs/cat.png`, `${CSP_SOURCE}/report/maps/cat_gradcam_c281.png`]);
    assert.ok(!html.includes('<a href'), 'no links a webview cannot follow');
  });

  it('every page, the report included, gets a fresh nonce', () => {
    const nonceIn = (html: string) => /nonce="([^"]+)"/.exec(html)![1];
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      seen.add(nonceIn(scriptPage(PAGES.panel)));
      seen.add(nonceIn(reportPageHtml(SUMMARY, CSP_SOURCE, (rel) => rel)));
    }
    assert.equal(seen.size, 40);
  });

  it('draws nonces from the cryptographic generator: 24 random bytes, 32 base64 characters', () => {
    const real = nodeCrypto.randomBytes;
    const asked: number[] = [];
    nodeCrypto.randomBytes = ((size: number) => {
      asked.push(size);
      return Buffer.alloc(size, 0xfb);
    }) as typeof nodeCrypto.randomBytes;
    let drawn: string;
    try {
      drawn = nonce();
    } finally {
      nodeCrypto.randomBytes = real;
    }
    assert.deepEqual(asked, [24]);
    assert.equal(drawn, Buffer.alloc(24, 0xfb).toString('base64'));
    const many = Array.from({ length: 1000 }, () => nonce());
    assert.equal(new Set(many).size, many.length);
    for (const n of many) assert.ok(n.length === 32 && BASE64.test(n), n);
  });

  it('an onnxruntime page carries the setting and preloads the wasm it will compile first, fetched as its CSP allows (connect-src)', () => {
    const wasm = `${RESOURCE}/dist/webview/ort/ort-wasm-simd-threaded.wasm`;
    const html = scriptPageHtml(PAGES.panel, 'p', {
      cspSource: CSP_SOURCE, script: `${RESOURCE}/dist/webview/panel.js`, style: `${RESOURCE}/media/panel.css`, bundles: `${RESOURCE}/dist/webview/`,
      executionProvider: 'wasm', nativeCpu: true, preload: [wasm],
    }, 'N'.repeat(32));
    assert.match(html, /<body data-bundles="[^"]+" data-ep="wasm" data-native-cpu="1">/);
    assert.ok(html.includes(`<link rel="preload" as="fetch" crossorigin href="${wasm}">`), html);
    assert.ok(contentSecurityPolicy('onnx', CSP_SOURCE, 'N'.repeat(32)).includes(`connect-src ${CSP_SOURCE}`));
    // onnxruntime-node behind a network link (code-server's browser window, a remote host): the page is told so, and 'auto' keeps big models in its WASM.
    const remote = scriptPageHtml(PAGES.panel, 'p', { cspSource: CSP_SOURCE, script: 's', style: 't', bundles: 'b/', executionProvider: 'auto', nativeCpu: 'remote' }, 'N'.repeat(32));
    assert.match(remote, /<body data-bundles="b\/" data-ep="auto" data-native-cpu="remote">/);
    const plain = scriptPageHtml(PAGES.layers, 'l', { cspSource: CSP_SOURCE, script: 's', style: 't', bundles: 'b/' }, 'N'.repeat(32));
    assert.ok(!plain.includes('preload') && !plain.includes('data-ep') && !plain.includes('data-native-cpu'));
  });

  it('puts the built bundle and stylesheet in the page, by nonce, and keeps them as files when their text could end the element early', () => {
    const n = 'N'.repeat(32);
    const script = fs.readFileSync(path.join(ROOT, 'dist', 'webview', 'panel.js'), 'utf8');
    const style = fs.readFileSync(path.join(ROOT, 'media', 'panel.css'), 'utf8');
    const res = { cspSource: CSP_SOURCE, script: `${RESOURCE}/dist/webview/panel.js`, style: `${RESOURCE}/media/panel.css`, bundles: `${RESOURCE}/dist/webview/` };
    const html = scriptPageHtml(PAGES.panel, 'p', { ...res, inline: { script, style } }, n);
    const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]);
    assert.deepEqual(scripts, [` type="module" nonce="${n}"`], 'one script, by nonce, no src');
    assert.ok(html.includes(`<script type="module" nonce="${n}">${script}</script>`), 'the bundle itself');
    assert.ok(html.includes(`<style nonce="${n}">${style}</style>`) && !html.includes('rel="stylesheet"'));
    const csp = cspOf(html);
    assert.deepEqual(csp.get('style-src'), [CSP_SOURCE, `'nonce-${n}'`], 'the inlined stylesheet by nonce; no unsafe-inline');
    assert.deepEqual(csp.get('script-src'), [`'nonce-${n}'`, "'wasm-unsafe-eval'", 'blob:']);
    assert.ok(!/\son[a-z]+=/.test(html.replace(script, '').replace(style, '')), 'no inline event handlers');
    for (const [bad, el] of [['x = "</script>";', 'script'], ['/* <!-- */', 'script'], ['a::after { content: "</style>" }', 'style']] as const) {
      const fallback = scriptPageHtml(PAGES.panel, 'p', { ...res, inline: el === 'script' ? { script: bad, style } : { script, style: bad } }, n);
      assert.ok(!fallback.includes(bad), `${el} text ${bad} is not put in the page`);
      assert.ok(el === 'script' ? fallback.includes(`src="${res.script}"`) : fallback.includes(`href="${res.style}"`));
    }
  });

  it('preloads exactly the files the page\'s onnxruntime start fetches for each setting (webview/ort-runtime.ts)', () => {
    assert.deepEqual(startFiles('cpu'), []);
    assert.deepEqual(startFiles('wasm'), [WORKER, PAIRS.wasm.glue, PAIRS.wasm.packed]);
    assert.deepEqual(startFiles('webgpu'), [WORKER, PAIRS.webgpu.glue, PAIRS.webgpu.packed]);
    assert.deepEqual(startFiles('auto'), [WORKER, PAIRS.wasm.glue, PAIRS.webgpu.glue]);
  });

  it('builds the CSP from one function: directives each given once, in the order the comments explain them', () => {
    for (const kind of ['static', 'script', 'onnx'] as const) {
      const names = contentSecurityPolicy(kind, CSP_SOURCE, 'N'.repeat(32)).split('; ').map((d) => d.split(' ')[0]);
      assert.deepEqual(names, ['default-src', 'style-src', 'img-src', 'script-src', 'worker-src', 'connect-src'], kind);
    }
  });
});
