/** Extension-host tests: activation, contributions, and explanations computed by the real webview. */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { LookCloserApi } from '../../src/extension/extension';
import { log } from './console-marker';

const EXTENSION_ID = 'look-closer.look-closer';
const IMAGE_WHEN = /resourceExtname =~ \/(.+)\/i/;

function workspaceFile(name: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the tests need a workspace folder (the runner opens one)');
  return vscode.Uri.joinPath(folder.uri, name);
}

/** Boxes (fractions of width and height) around the objects in the sample photos. */
const CAT_BOX = { x0: 0.03, y0: 0.08, x1: 1.0, y1: 0.93 };
const CAT_HEAD = { x0: 0.02, y0: 0.06, x1: 0.4, y1: 0.5 };
const DOG_BOX = { x0: 0.3, y0: 0.0, x1: 0.75, y1: 0.62 };

function inside(p: { x: number; y: number } | undefined, b: typeof CAT_BOX): boolean {
  return !!p && p.x >= b.x0 && p.x <= b.x1 && p.y >= b.y0 && p.y <= b.y1;
}

/** Reads a float32 .npy (format 1.0). */
function npy(bytes: Uint8Array): { shape: number[]; data: Float32Array } {
  const len = bytes[8] | (bytes[9] << 8);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + len));
  assert.match(header, /'descr': '<f4'/);
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1].split(',').filter((x) => x.trim()).map(Number);
  const body = bytes.slice(10 + len);
  return { shape, data: new Float32Array(body.buffer, body.byteOffset, body.byteLength / 4) };
}

function cosine(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

let api: LookCloserApi;

describe('Look Closer extension', () => {
  before(async () => {
    const ext = vscode.extensions.getExtension<LookCloserApi>(EXTENSION_ID);
    assert.ok(ext, `extension ${EXTENSION_ID} is installed`);
    api = await ext.activate();
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  describe('activation and contributions', () => {
    it('activates and returns its API', () => {
      const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
      assert.equal(ext.isActive, true);
      for (const k of ['explain', 'update', 'summary', 'activations', 'layersViewReady', 'explainFolder', 'openReport']) assert.equal(typeof (api as unknown as Record<string, unknown>)[k], 'function', k);
    });

    it('registers its commands', async () => {
      const all = await vscode.commands.getCommands(true);
      for (const c of ['lookCloser.explainImage', 'lookCloser.useModel', 'lookCloser.chooseModel']) assert.ok(all.includes(c), `${c} is registered`);
    });

    it('puts "Look Closer: Explain Image" on image files in the Explorer and on the image preview', () => {
      const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON;
      const cmd = pkg.contributes.commands.find((c: { command: string }) => c.command === 'lookCloser.explainImage');
      assert.equal(cmd.title, 'Look Closer: Explain Image');
      const entry = pkg.contributes.menus['explorer/context'].find((m: { command: string }) => m.command === 'lookCloser.explainImage');
      const re = new RegExp(IMAGE_WHEN.exec(entry.when)![1], 'i');
      for (const ext of ['.png', '.jpg', '.jpeg', '.webp', '.bmp', '.gif', '.JPG']) assert.ok(re.test(ext), `${ext} gets the menu`);
      for (const ext of ['.txt', '.onnx', '.svg', '.pngx']) assert.ok(!re.test(ext), `${ext} does not`);
      const title = pkg.contributes.menus['editor/title'].find((m: { command: string }) => m.command === 'lookCloser.explainImage');
      assert.match(title.when, /activeCustomEditorId == imagePreview\.previewEditor/);
    });

    it('puts "Look Closer: Use This Model" on .onnx files and declares the settings and the Layers view', () => {
      const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON;
      const entry = pkg.contributes.menus['explorer/context'].find((m: { command: string }) => m.command === 'lookCloser.useModel');
      assert.match(entry.when, /resourceExtname == \.onnx/);
      const props = pkg.contributes.configuration.properties;
      assert.deepEqual(props['lookCloser.executionProvider'].enum, ['auto', 'webgpu', 'wasm', 'cpu']);
      assert.equal(props['lookCloser.model'].type, 'string');
      assert.equal(pkg.contributes.views.lookCloser[0].id, 'lookCloser.layers');
      assert.equal(pkg.contributes.viewsContainers.activitybar[0].id, 'lookCloser');
    });
  });

  describe('explaining a photo through the real webview (bundled SqueezeNet)', () => {
    it('explains wm_cat.jpg: top-1 is a cat and the CAM peaks on it', async () => {
      const s = await api.explain(workspaceFile('wm_cat.jpg'));
      log(`    top-5: ${s.predictions.map((p) => `${p.label} ${(p.score * 100).toFixed(1)}%`).join(', ')}; ${s.method} at ${s.layer}; peak ${JSON.stringify(s.peak)}; ${s.backend}; ${JSON.stringify(s.timings)}`);
      assert.equal(s.model, 'squeezenet1.0-fp16-winml.onnx');
      assert.equal(s.predictions.length, 5);
      assert.equal(s.predictions[0].index, 282, `top-1 is tiger cat (282), got ${s.predictions[0].label}`);
      assert.equal(s.predictions[0].label, 'tiger cat');
      assert.equal(s.method, 'cam', 'CAM is the first registry method and applies to SqueezeNet');
      assert.equal(s.layer, s.defaultLayer);
      assert.equal(s.display, 'heatmap');
      assert.equal(s.preset.name, 'caffe-bgr');
      assert.equal(s.preset.source, 'sidecar');
      assert.ok(inside(s.peak, CAT_HEAD), `peak ${JSON.stringify(s.peak)} lies on the cat's head`);
      assert.ok(s.rawRange[1] > s.rawRange[0]);
      assert.ok(s.rendered.width > 100 && s.rendered.height > 100, 'the webview drew the picture');
      assert.ok(['WASM', 'WebGPU', 'CPU'].includes(s.backend));
    });

    it('switches to Grad-CAM, which also peaks on the cat', async () => {
      const s = await api.update({ method: 'gradcam' });
      log(`    gradcam at ${s.layer}: peak ${JSON.stringify(s.peak)}, raw ${s.rawRange.join('…')}`);
      assert.equal(s.method, 'gradcam');
      assert.equal(s.classIndex, 282);
      assert.ok(inside(s.peak, CAT_BOX), `peak ${JSON.stringify(s.peak)} lies on the cat`);
    });

    it('shows an input-gradient method as a gradient image', async () => {
      const s = await api.update({ method: 'guided-backprop' });
      assert.equal(s.method, 'guided-backprop');
      assert.equal(s.display, 'gradient');
      assert.equal(s.layer, undefined);
    });

    it('explains a chosen class: the bull mastiff in the dog-and-cat photo', async () => {
      const s = await api.explain(workspaceFile('two_class_both_dog_cat.png'), { method: 'cam', classIndex: 243 });
      assert.equal(s.predictions[0].index, 243);
      assert.equal(s.classIndex, 243);
      assert.ok(inside(s.peak, DOG_BOX), `peak ${JSON.stringify(s.peak)} lies on the dog`);
      assert.ok(s.gain && s.gain.classIndex === 243 && Number.isFinite(s.gain.drop) && s.gain.before >= 0 && s.gain.after >= 0, `GAIN check ${JSON.stringify(s.gain)}`);
      const cat = await api.update({ classIndex: 281 });
      assert.equal(cat.classIndex, 281);
      assert.equal(cat.label, 'tabby cat');
    });

    it('gives a layer\'s channel activations with statistics', async () => {
      const s = await api.summary();
      assert.ok(s?.layer);
      const a = await api.activations(s.layer);
      assert.equal(a.layer, s.layer);
      assert.equal(a.channels.length, a.shape[1]);
      assert.equal(a.data.length, a.channels.length * a.height * a.width);
      assert.ok(a.targetable);
      for (const c of a.channels.slice(0, 20)) {
        assert.ok(c.min <= c.mean && c.mean <= c.max, `channel ${c.index} stats are ordered`);
        assert.ok(c.zeros >= 0 && c.zeros <= 1);
      }
    });

    it('shows attention crops: three scales, each scale\'s top-1 and the fused prediction', async () => {
      const s = await api.explain(workspaceFile('wm_cat.jpg'), { method: 'attention-crop' });
      assert.equal(s.method, 'attention-crop');
      assert.equal(s.crops?.scales.length, 3);
      assert.ok(s.crops && s.crops.fused.score > 0 && s.crops.fused.score <= 1, JSON.stringify(s.crops));
      assert.ok(s.gain, 'the GAIN check ran on the crops\' map');
    });

    it('runs on the extension host\'s CPU with the setting \'cpu\': the same Grad-CAM as the webview\'s WASM', async () => {
      const config = () => vscode.workspace.getConfiguration('lookCloser');
      try {
        await config().update('executionProvider', 'wasm', vscode.ConfigurationTarget.Workspace);
        const wasm = await api.explain(workspaceFile('wm_cat.jpg'), { method: 'gradcam', classIndex: 282 });
        await config().update('executionProvider', 'cpu', vscode.ConfigurationTarget.Workspace);
        const cpu = await api.explain(workspaceFile('wm_cat.jpg'), { method: 'gradcam', classIndex: 282 });
        log(`    ${wasm.backend}: gradcam ${JSON.stringify(wasm.timings)}; ${cpu.backend} (${cpu.backendReason}): ${JSON.stringify(cpu.timings)}`);
        assert.equal(wasm.backend, 'WASM');
        assert.equal(cpu.backend, 'CPU');
        assert.match(cpu.backendReason ?? '', /^onnxruntime-\S+ \S+ \((wasm|cpu), \d+ threads\) in the extension host: the setting lookCloser\.executionProvider asks for it/);
        assert.deepEqual(cpu.predictions.map((p) => p.index), wasm.predictions.map((p) => p.index));
        cpu.predictions.forEach((p, i) => assert.ok(Math.abs(p.score - wasm.predictions[i].score) < 2e-3, `class ${p.index}: ${p.score} vs ${wasm.predictions[i].score}`));
        assert.equal(cpu.layer, wasm.layer);
        const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-6);
        assert.ok(rel(cpu.rawRange[1], wasm.rawRange[1]) < 1e-2, `Grad-CAM maximum ${cpu.rawRange[1]} vs ${wasm.rawRange[1]}`);
        assert.deepEqual(cpu.peak, wasm.peak);
        // The Layers view's activations come from the same runtime as the panel's explanation.
        const acts = await api.activations(cpu.layer!);
        assert.equal(acts.data.length, acts.channels.length * acts.height * acts.width);
      } finally {
        await config().update('executionProvider', undefined, vscode.ConfigurationTarget.Workspace);
      }
    });

    it('refuses runtime requests a webview must not send', async () => {
      await assert.rejects(api.testing.fromPanel({ type: 'runtimeRun', session: 987654, feeds: {} }), /The explanation panel sent session 987654.*not a session this view created/);
      await assert.rejects(api.testing.fromPanel({ type: 'runtimeCreate', model: 'x.onnx' }), /model bytes that are not bytes/);
      await assert.rejects(api.testing.fromPanel({ type: 'runtimeCreate', model: new Uint8Array(4), optimization: 'extreme' }), /optimization level "extreme"/);
    });

    it('reports a broken image as an error naming it, and the panel stays usable', async () => {
      await assert.rejects(api.explain(workspaceFile('broken.png')), (e: Error) => {
        assert.match(e.message, /broken\.png/);
        return true;
      });
      const s = await api.explain(workspaceFile('wm_cat.jpg'), { method: 'cam' });
      assert.equal(s.predictions[0].index, 282);
    });
  });

  describe('Explain Folder (bundled SqueezeNet)', () => {
    const read = async (u: vscode.Uri) => new TextDecoder().decode(await vscode.workspace.fs.readFile(u));
    const base = (p: string) => p.split(/[\\/]/).pop()!;

    it('is on folders in the Explorer and in the command palette', async () => {
      const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON;
      const entry = pkg.contributes.menus['explorer/context'].find((m: { command: string }) => m.command === 'lookCloser.explainFolder');
      assert.equal(entry.when, 'explorerResourceIsFolder');
      assert.equal(pkg.contributes.commands.find((c: { command: string }) => c.command === 'lookCloser.explainFolder').title, 'Look Closer: Explain Folder');
      assert.ok((await vscode.commands.getCommands(true)).includes('lookCloser.explainFolder'));
    });

    it('explains every image of a folder and writes the same report as the CLI, then shows it', async () => {
      const r = await api.explainFolder(workspaceFile('photos'), { methods: ['gradcam', 'guided-backprop'], top: 1, gain: true });
      const s = r.summary;
      log(`    ${s.explained}/${s.images.length} images, ${s.backend}, ${s.timings.imagesPerSecond.toFixed(2)} images/s → ${vscode.workspace.asRelativePath(r.folder)}`);
      assert.match(r.folder.path, /\/look-closer-out\/photos-report$/);
      assert.equal(s.format, 'look-closer-batch');
      assert.deepEqual(s.methods, ['gradcam', 'guided-backprop']);
      assert.deepEqual(s.images.map((i) => base(i.input)), ['broken.jpg', 'two_class_both_dog_cat.png', 'wm_cat.jpg', 'wm_pelican.jpg'], 'notes.txt is skipped');
      assert.equal(s.explained, 3);
      assert.equal(s.failed, 1);
      assert.match(s.images[0].error ?? '', /broken\.jpg/);
      // What is on disk is what the API returned.
      assert.deepEqual(JSON.parse(await read(vscode.Uri.joinPath(r.folder, 'summary.json'))), JSON.parse(JSON.stringify(s)));
      const html = await read(vscode.Uri.joinPath(r.folder, 'index.html'));
      for (const i of s.images) assert.ok(html.includes(base(i.input)), `the gallery lists ${base(i.input)}`);

      // The CLI explained the same folder before the suite started (test/extension/run.ts).
      const cli = JSON.parse(await read(vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, '..', 'fixtures', 'cli-report', 'summary.json'))) as typeof s;
      assert.equal(s.layer, cli.layer);
      assert.deepEqual(s.images.map((i) => base(i.input)), cli.images.map((i) => base(i.input)));
      for (let k = 1; k < s.images.length; k++) {
        const [mine, theirs] = [s.images[k], cli.images[k]];
        const name = base(mine.input);
        assert.equal(mine.predictions[0].index, theirs.predictions[0].index, `${name}: same top-1 as the CLI`);
        assert.ok(Math.abs(mine.predictions[0].score - theirs.predictions[0].score) < 0.03, `${name}: top-1 probability ${mine.predictions[0].score} vs CLI ${theirs.predictions[0].score}`);
        assert.deepEqual(mine.outputs.map((o) => [o.method, o.class, o.shape]), theirs.outputs.map((o) => [o.method, o.class, o.shape]), `${name}: same outputs as the CLI`);
        for (let j = 0; j < mine.outputs.length; j++) {
          const o = mine.outputs[j];
          const png = await vscode.workspace.fs.readFile(vscode.Uri.joinPath(r.folder, o.png));
          assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], `${o.png} is a PNG`);
          const a = npy(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(r.folder, o.npy)));
          const b = npy(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(r.folder, '..', '..', '..', 'fixtures', 'cli-report', theirs.outputs[j].npy)));
          assert.deepEqual(a.shape, o.shape);
          const c = cosine(a.data, b.data);
          log(`    ${name} ${o.method} c${o.class}: cosine ${c.toFixed(5)} vs the CLI; GAIN ${o.gain?.before.toFixed(3)} → ${o.gain?.after.toFixed(3)} (CLI ${theirs.outputs[j].gain?.before.toFixed(3)} → ${theirs.outputs[j].gain?.after.toFixed(3)})`);
          // The PNG decodes to the same pixels in both; the JPEGs go through two different decoders.
          assert.ok(c > (name.endsWith('.png') ? 0.999 : 0.99), `${name} ${o.method}: map agrees with the CLI's (cosine ${c})`);
          assert.ok(o.gain && Number.isFinite(o.gain.after) && Math.abs(o.gain.drop - (o.gain.before - o.gain.after)) < 1e-6, `${name}: GAIN measured`);
        }
      }
      const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).map((t) => t.label);
      assert.ok(tabs.includes('Report: photos'), `the report is shown (tabs: ${tabs.join(', ')})`);
    });

    it('"Open Report" shows a report the CLI wrote, and refuses a JSON file that is not one', async () => {
      const count = () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.label === 'Report: photos').length;
      const before = count();
      await api.openReport(vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, '..', 'fixtures', 'cli-report', 'summary.json'));
      for (let i = 0; i < 50 && count() === before; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(count(), before + 1, `tabs: ${vscode.window.tabGroups.all.flatMap((g) => g.tabs).map((t) => t.label).join(', ')}`);
      const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON;
      assert.match(pkg.contributes.menus['explorer/context'].find((m: { command: string }) => m.command === 'lookCloser.openReport').when, /resourceFilename == summary\.json/);
      await vscode.workspace.fs.writeFile(workspaceFile('other/summary.json'), new TextEncoder().encode('{"format": "something-else"}'));
      await assert.rejects(api.openReport(workspaceFile('other/summary.json')), /is not a Look Closer batch summary/);
      await assert.rejects(api.openReport(workspaceFile('nowhere/summary.json')), /Cannot read report summary/);
    });

    it('never overwrites an earlier report, and names the problem for a folder without images', async () => {
      const before = await read(workspaceFile('look-closer-out/photos-report/summary.json'));
      const r = await api.explainFolder(workspaceFile('photos'), { methods: ['cam'], gain: false });
      assert.match(r.folder.path, /\/photos-report-2$/);
      assert.equal(r.summary.explained, 3);
      assert.ok(r.summary.images.every((i) => i.outputs.every((o) => !o.gain)));
      assert.equal(await read(workspaceFile('look-closer-out/photos-report/summary.json')), before);
      await vscode.workspace.fs.createDirectory(workspaceFile('empty'));
      await assert.rejects(api.explainFolder(workspaceFile('empty')), /Folder 'empty' has no images/);
      await assert.rejects(api.explainFolder(workspaceFile('photos'), { methods: ['gradcamx'] }), /Unknown method 'gradcamx'/);
    });

    it('closing the folder view part way stops the run and still writes the report of the images that ran', async () => {
      const run = api.explainFolder(workspaceFile('photos'), { methods: ['gradcam', 'guided-backprop'], gain: true });
      const inputs = workspaceFile('look-closer-out/photos-report-3/inputs');
      // Wait until the first image's files are written, then close the view.
      for (let i = 0; i < 600; i++) {
        const written = await vscode.workspace.fs.readDirectory(inputs).then((e) => e.length, () => 0);
        if (written) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const tab = vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.label === 'Explain Folder: photos');
      assert.ok(tab, 'the folder view is open while it runs');
      await vscode.window.tabGroups.close(tab);
      const r = await run;
      log(`    closed after ${r.summary.images.length} of 4 images`);
      assert.equal(r.summary.cancelled, true);
      assert.ok(r.summary.images.length >= 1 && r.summary.images.length < 4, `${r.summary.images.length} images ran`);
      const disk = JSON.parse(await read(vscode.Uri.joinPath(r.folder, 'summary.json')));
      assert.equal(disk.cancelled, true);
      assert.equal(disk.images.length, r.summary.images.length);
      assert.ok((await read(vscode.Uri.joinPath(r.folder, 'index.html'))).includes('cancelled'));
    });
  });

  describe('models', () => {
    it('"Use This Model" switches the workspace to a model next to the images', async () => {
      const fixtures = vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, '..', 'fixtures');
      for (const f of ['mnist-burn-pytorch.onnx', 'mnist-burn-pytorch.onnx.json', 'mnist_labels.txt']) {
        await vscode.workspace.fs.copy(vscode.Uri.joinPath(fixtures, f), workspaceFile(`models/${f}`), { overwrite: true });
      }
      await vscode.commands.executeCommand('lookCloser.useModel', workspaceFile('models/mnist-burn-pytorch.onnx'));
      const s = await api.explain(workspaceFile('mnist_3_1020.png'));
      log(`    mnist: ${s.predictions[0].label} ${(s.predictions[0].score * 100).toFixed(1)}% via ${s.method}; preset ${s.preset.name} (${s.preset.source}); labels ${s.labelsSource}`);
      assert.equal(s.model, 'mnist-burn-pytorch.onnx');
      assert.equal(s.predictions[0].label, '3');
      assert.equal(s.preset.name, 'mnist-normalized');
      assert.notEqual(s.method, 'cam', 'CAM does not apply to this head, so the panel falls back to the next method');
    });
  });
  describe('a hostile webview and hostile settings', () => {
    const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const folder = () => vscode.workspace.workspaceFolders![0].uri;
    const exists = (u: vscode.Uri) => Promise.resolve(vscode.workspace.fs.stat(u)).then(() => true, () => false);
    const asked: string[] = [];
    let answer: string | undefined;

    before(async () => {
      api.testing.scriptPrompts((message) => {
        asked.push(message);
        return answer;
      });
      // The "models" tests left the workspace on its MNIST model: a panel on a model the workspace holds.
      await api.explain(workspaceFile('mnist_3_1020.png'));
    });

    after(async () => {
      api.testing.scriptPrompts();
      await vscode.workspace.getConfiguration('lookCloser').update('model', undefined, vscode.ConfigurationTarget.Workspace);
    });

    it('refuses every save whose file name is not one plain name, and writes nothing', async () => {
      log(`    workspace folder URI scheme: ${folder().scheme}`);
      const before = await vscode.workspace.fs.readDirectory(workspaceFile('look-closer-out')).then((e) => e.map(([n]) => n).sort(), () => []);
      const names = ['../../x.png', '/etc/x.png', 'a/b.png', 'x.exe', '..', '', `${'a'.repeat(10 * 1024 * 1024)}.png`, '..\\..\\x.png', 'CON.png', 'x.npy', 42];
      for (const fileName of names) {
        await assert.rejects(api.testing.fromPanel({ type: 'save', what: 'PNG', fileName, bytes: PNG }), (e: Error) => {
          assert.match(e.message, /The explanation panel sent .*refused/, String(fileName).slice(0, 40));
          assert.ok(e.message.length < 400, 'a 10 MB name is quoted cut short');
          return true;
        });
      }
      await assert.rejects(api.testing.fromPanel({ type: 'save', what: '.exe', fileName: 'x.exe', bytes: PNG }), /neither 'PNG' nor '\.npy'/);
      await assert.rejects(api.testing.fromPanel({ type: 'save', what: 'PNG', fileName: 'x.png', bytes: 'not bytes' }), /not bytes/);
      await assert.rejects(api.testing.fromPanel({ type: '__proto__' }), /Unknown request type '__proto__'/);
      await assert.rejects(api.testing.fromPanel({ type: 'progress', title: 'x'.repeat(100_000) }), /progress title .*longer than 200/);
      const after = await vscode.workspace.fs.readDirectory(workspaceFile('look-closer-out')).then((e) => e.map(([n]) => n).sort(), () => []);
      assert.deepEqual(after, before, 'nothing was written to look-closer-out/');
      for (const u of [vscode.Uri.joinPath(folder(), '..', '..', 'x.png'), vscode.Uri.joinPath(folder(), '..', 'x.png'), workspaceFile('a/b.png'), workspaceFile('x.exe')]) {
        assert.equal(await exists(u), false, `${u.path} was not written`);
      }
      assert.deepEqual(asked, [], 'nothing got as far as asking');
    });

    it('saves a plain name into look-closer-out/, and asks before replacing it', async () => {
      const r = await api.testing.fromPanel({ type: 'save', what: 'PNG', fileName: 'hostile-test.png', bytes: PNG }) as { path: string };
      assert.equal(r.path, 'look-closer-out/hostile-test.png');
      const target = workspaceFile('look-closer-out/hostile-test.png');
      const other = new Uint8Array([...PNG, 1, 2, 3]);
      answer = undefined;
      await assert.rejects(api.testing.fromPanel({ type: 'save', what: 'PNG', fileName: 'hostile-test.png', bytes: other }), (e: Error) => e.name === 'AbortError');
      assert.equal(asked.length, 1);
      assert.match(asked[0], /^Replace look-closer-out\/hostile-test\.png\?$/);
      assert.deepEqual([...await vscode.workspace.fs.readFile(target)], [...PNG], 'declining keeps the file');
      answer = 'Replace';
      await api.testing.fromPanel({ type: 'save', what: 'PNG', fileName: 'hostile-test.png', bytes: other });
      assert.equal(asked.length, 2);
      assert.deepEqual([...await vscode.workspace.fs.readFile(target)], [...other], '"Replace" replaces it');
    });

    it("refuses a sidecar with preset '__proto__' or labels at file:///etc/passwd, and asks before changing a sidecar", async () => {
      const model = workspaceFile('models/mnist-burn-pytorch.onnx');
      const side = workspaceFile('models/mnist-burn-pytorch.onnx.json');
      const original = await vscode.workspace.fs.readFile(side);
      const send = (o: Record<string, unknown>) => api.testing.fromPanel({ type: 'saveSidecar', modelKey: model.toString(), preset: 'mnist-normalized', ...o });
      await assert.rejects(send({ preset: '__proto__' }), /the preset "__proto__", which is refused: a sidecar names a built-in preset/);
      await assert.rejects(send({ preset: 'constructor' }), /built-in preset/);
      await assert.rejects(send({ labelsUri: 'file:///etc/passwd' }), /labels file .*(outside the workspace|another file system)/);
      await assert.rejects(send({ labelsUri: vscode.Uri.joinPath(folder(), '..', 'fixtures', 'mnist_labels.txt').toString() }), /outside the workspace/);
      assert.deepEqual([...await vscode.workspace.fs.readFile(side)], [...original], 'the sidecar is unchanged');
      asked.length = 0;
      const same = await send({}) as { path: string };
      assert.equal(same.path, 'models/mnist-burn-pytorch.onnx.json');
      assert.deepEqual(asked, [], 'a sidecar that would not change is not asked about');
      answer = undefined;
      await assert.rejects(send({ preset: 'mnist', labelsUri: workspaceFile('models/mnist_labels.txt').toString() }), (e: Error) => e.name === 'AbortError');
      assert.match(asked[0] ?? '', /^Replace models\/mnist-burn-pytorch\.onnx\.json\?$/);
      assert.deepEqual([...await vscode.workspace.fs.readFile(side)], [...original], 'declining keeps the sidecar');
      answer = 'Replace';
      await send({ preset: 'mnist', labelsUri: workspaceFile('models/mnist_labels.txt').toString() });
      assert.deepEqual(JSON.parse(new TextDecoder().decode(await vscode.workspace.fs.readFile(side))), { preset: 'mnist', labels: 'mnist_labels.txt' });
      await vscode.workspace.fs.writeFile(side, original);
    });

    it('refuses a layer the model does not have (the Layers view asking for activations)', async () => {
      await vscode.commands.executeCommand('lookCloser.layers.focus');
      await Promise.race([api.layersViewReady(), new Promise((_, reject) => setTimeout(() => reject(new Error('the Layers view did not load')), 60_000))]);
      const s = await api.summary();
      await assert.rejects(api.testing.fromLayers({ type: 'selectLayer', layer: '../../../../etc/passwd' }), /The Layers view sent the layer .*no such layer/);
      await assert.rejects(api.testing.fromLayers({ type: 'selectLayer', layer: { name: s?.layer } }), /not a string/);
      await assert.rejects(api.testing.fromLayers({ type: 'selectLayer', layer: `${s?.layer}\u0000` }), /control characters|no such layer/);
      if (s?.layer) {
        const a = await api.testing.fromLayers({ type: 'selectLayer', layer: s.layer }) as { layer: string };
        assert.equal(a.layer, s.layer, 'a layer the model has is answered');
      }
    });

    it("refuses lookCloser.model = '../../../../etc/passwd', naming the setting and the path", async () => {
      assert.equal(vscode.workspace.isTrusted, true, 'the suite runs in a trusted workspace (code-server with trust off)');
      // A changed setting re-opens every panel; with none open, nothing runs behind the test's back.
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      const config = vscode.workspace.getConfiguration('lookCloser');
      await config.update('model', '../../../../etc/passwd', vscode.ConfigurationTarget.Workspace);
      try {
        await assert.rejects(api.explain(workspaceFile('wm_cat.jpg')), (e: Error) => {
          assert.match(e.message, /The setting lookCloser\.model is '\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd', which is refused: it points outside the workspace folder/);
          return true;
        });
        await config.update('model', '/etc/passwd', vscode.ConfigurationTarget.Workspace);
        await assert.rejects(api.explain(workspaceFile('wm_cat.jpg')), /lookCloser\.model is '\/etc\/passwd', which is refused/);
        await config.update('model', 'models/../../fixtures/mnist-burn-pytorch.onnx', vscode.ConfigurationTarget.Workspace);
        await assert.rejects(api.explain(workspaceFile('wm_cat.jpg')), /which is refused: it points outside the workspace folder/);
      } finally {
        await config.update('model', undefined, vscode.ConfigurationTarget.Workspace);
      }
    });

    it("refuses a sidecar whose labels is '../../../../etc/passwd' (or a link out of the workspace), naming the sidecar", async () => {
      const fixtures = vscode.Uri.joinPath(folder(), '..', 'fixtures');
      await vscode.workspace.fs.copy(vscode.Uri.joinPath(fixtures, 'mnist-burn-pytorch.onnx'), workspaceFile('evil/evil.onnx'), { overwrite: true });
      const sidecar = (labels: string) => vscode.workspace.fs.writeFile(workspaceFile('evil/evil.onnx.json'), new TextEncoder().encode(JSON.stringify({ preset: 'mnist-normalized', labels })));
      await sidecar('../../../../etc/passwd');
      await vscode.commands.executeCommand('lookCloser.useModel', workspaceFile('evil/evil.onnx'));
      try {
        await assert.rejects(api.explain(workspaceFile('mnist_3_1020.png')), (e: Error) => {
          assert.match(e.message, /Sidecar 'evil\/evil\.onnx\.json' names the labels file '\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd', which resolves to .*outside the workspace/);
          assert.ok(!e.message.includes('root:'), 'nothing of /etc/passwd is in the message');
          return true;
        });
        if (folder().scheme === 'file') {
          const fs = await import('node:fs');
          fs.symlinkSync('/etc/passwd', workspaceFile('evil/labels.txt').fsPath);
          await sidecar('labels.txt');
          await assert.rejects(api.explain(workspaceFile('mnist_3_1020.png')), /names the labels file 'labels\.txt', which resolves to 'evil\/labels\.txt' outside the workspace/);
        }
        await sidecar('../models/mnist_labels.txt');
        const s = await api.explain(workspaceFile('mnist_3_1020.png'));
        assert.equal(s.predictions[0].label, '3', 'labels elsewhere inside the workspace are read');
      } finally {
        await vscode.commands.executeCommand('lookCloser.useModel', workspaceFile('models/mnist-burn-pytorch.onnx'));
      }
    });
  });
});
