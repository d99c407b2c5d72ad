/** The extension host's checks of what a webview sends (src/extension/validate.ts), played by a hostile webview. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { METHODS } from '../../src/core/methods/registry';
import { PRESETS } from '../../src/core/preprocess/presets';
import {
  LIMITS, checkBatchReply, checkBytes, checkChannel, checkFileName, checkLayer, checkLayersState, checkNotice, checkSave,
  checkSaveSidecar, checkTitle, isInside, placeSettingPath, placeSidecarLabels, quote,
} from '../../src/extension/validate';

const FROM = 'The explanation panel';
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
const refused = (re: RegExp = /refused/) => (e: Error) => {
  assert.match(e.message, re);
  assert.equal((e as { kind?: string }).kind !== undefined, true, 'a LookCloserError with a kind');
  return true;
};

const WS = { scheme: 'file', authority: '', path: '/home/u/ws' };

describe('host validation of webview messages (src/extension/validate.ts)', () => {
  describe('save', () => {
    const save = (fileName: unknown, what: unknown = 'PNG', bytes: unknown = PNG) => checkSave(FROM, { type: 'save', fileName, what, bytes });

    it('accepts the names the panel makes', () => {
      assert.deepEqual(save('wm_cat_gradcam_c282.png'), { fileName: 'wm_cat_gradcam_c282.png', what: 'PNG', bytes: PNG });
      assert.equal(save('wm_cat__layer4_Relu_ch3.npy', '.npy').fileName, 'wm_cat__layer4_Relu_ch3.npy');
      assert.equal(save('Ünïcödé kätze_c1.PNG').fileName, 'Ünïcödé kätze_c1.PNG');
      assert.equal(checkFileName(FROM, 'a'.repeat(LIMITS.fileName - 4) + '.npy', '.npy').length, LIMITS.fileName);
      assert.equal(save('C:x.png').fileName, 'C_x.png', "Windows' reserved punctuation becomes '_' (':' would open an NTFS stream)");
      assert.equal(save('shot 12:30 <a|b>?.png').fileName, 'shot 12_30 _a_b__.png');
    });

    it('refuses every name that is not one plain file name with its kind\'s extension', () => {
      const hostile = ['../../x.png', '/etc/x.png', 'a/b.png', 'a\\b.png', 'x.exe', '..', '', '.png', '..png', 'x..png', 'x.png\u0000.exe',
        'x\n.png', 'CON.png', 'nul.npy', 'com1.png', 'x.png ', 'x.png.', ' x.png', 'x\u202egnp.exe', 'x.npy', 'x.png.npy'];
      for (const name of hostile) assert.throws(() => save(name), refused(), JSON.stringify(name));
      assert.throws(() => save('x.png', '.npy'), refused(/must end in \.npy/));
      assert.throws(() => save('a'.repeat(10 * 1024 * 1024) + '.png'), (e: Error) => {
        assert.match(e.message, /longer than 120 characters/);
        assert.ok(e.message.length < 300, 'the message quotes a 10 MB name cut short');
        return true;
      });
      for (const name of [42, null, undefined, ['x.png'], { toString: () => 'x.png' }]) assert.throws(() => save(name), refused(/not a string|empty/));
    });

    it('refuses an unknown kind, bytes that are not bytes, and bytes over the cap', () => {
      assert.throws(() => save('x.png', 'HTML'), refused(/neither 'PNG' nor '\.npy'/));
      assert.throws(() => save('x.png', 'PNG', 'iVBORw0KGgo='), /not bytes/);
      assert.throws(() => save('x.png', 'PNG', { 0: 1, 1: 2 }), /not bytes/);
      assert.throws(() => save('x.png', 'PNG', [0, 256]), /256 among the bytes/);
      assert.throws(() => save('x.png', 'PNG', new DataView(new ArrayBuffer(2))), /not bytes/);
      assert.throws(() => checkBytes(FROM, 'the PNG', new Uint8Array(11), 10), /11 bytes of the PNG, more than the 10 allowed/);
      assert.throws(() => checkBytes(FROM, 'the PNG', { type: 'Buffer', data: new Array(11).fill(0) }, 10), /more than the 10 allowed/);
      assert.equal(LIMITS.saveBytes, 256 * 1024 * 1024);
      assert.deepEqual([...checkBytes(FROM, 'x', new Float32Array([1]), 10)], [0, 0, 128, 63], 'a typed array travels as its bytes');
      assert.deepEqual([...checkBytes(FROM, 'x', [1, 2], 10)], [1, 2]);
      assert.deepEqual([...checkBytes(FROM, 'x', new Uint8Array([5]).buffer, 10)], [5]);
    });

    it('reads only the message\'s own fields', () => {
      const proto = Object.create({ fileName: 'x.png', what: 'PNG', bytes: PNG });
      assert.throws(() => checkSave(FROM, proto), refused(/neither/));
      assert.throws(() => checkSave(FROM, null), refused(/not an object/));
      assert.throws(() => checkSave(FROM, [1]), refused(/not an object/));
    });
  });

  describe('saveSidecar', () => {
    const sidecar = (preset: unknown, labelsUri?: unknown) => checkSaveSidecar(FROM, { type: 'saveSidecar', modelKey: 'file:///ws/m.onnx', preset, ...(labelsUri === undefined ? {} : { labelsUri }) }, PRESETS);

    it('accepts a built-in preset and a labels URI as text', () => {
      assert.deepEqual(sidecar('torchvision'), { modelKey: 'file:///ws/m.onnx', preset: 'torchvision' });
      assert.equal(sidecar('mnist', 'file:///ws/labels.txt').labelsUri, 'file:///ws/labels.txt');
    });

    it('refuses a preset that is not an own, registered name', () => {
      for (const p of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', "custom (based on 'unit')", '', 7, null, { name: 'unit' }]) {
        assert.throws(() => sidecar(p), refused(/built-in preset/), JSON.stringify(p));
      }
    });

    it('refuses a labels URI that is not short text', () => {
      assert.throws(() => sidecar('unit', 42), refused(/not a string/));
      assert.throws(() => sidecar('unit', 'x'.repeat(LIMITS.uri + 1)), refused(/longer than/));
      assert.throws(() => sidecar('unit', 'file:///ws/a\u0000b'), refused(/control/));
    });

    it('places a labels URI outside the workspace outside it (the host then refuses it)', () => {
      const etc = { scheme: 'file', authority: '', path: '/etc/passwd' };
      assert.equal(isInside(WS, etc), false);
      assert.equal(isInside(WS, { ...WS, path: '/home/u/ws/../../../etc/passwd' }), false);
      assert.equal(isInside(WS, { ...WS, path: '/home/u/ws-other/labels.txt' }), false, 'a sibling folder with the same prefix');
      assert.equal(isInside(WS, { ...WS, path: '/home/u/ws/models/labels.txt' }), true);
      assert.equal(isInside(WS, { ...WS, path: '/home/u/ws/' }), true);
      assert.equal(isInside(WS, { ...WS, scheme: 'vscode-remote', authority: 'h' }), false, 'another file system');
      assert.equal(isInside(WS, { ...WS, path: '/HOME/U/WS/x' }), false);
      assert.equal(isInside(WS, { ...WS, path: '/HOME/U/WS/x' }, true), true, 'case-insensitive where the file system is');
    });
  });

  describe('progress, notices, layers', () => {
    it('takes a short progress title and refuses anything else', () => {
      assert.equal(checkTitle(FROM, { type: 'progress', title: 'Explaining cat.jpg' }), 'Explaining cat.jpg');
      assert.throws(() => checkTitle(FROM, { type: 'progress', title: 'x'.repeat(LIMITS.title + 1) }), refused(/longer than 200/));
      assert.throws(() => checkTitle(FROM, { type: 'progress', title: { toString: () => 'x' } }), refused(/not a string/));
      assert.throws(() => checkTitle(FROM, { type: 'progress', title: 'a\u001b[31mred' }), refused(/control/));
    });

    it('checks a notice\'s level and message', () => {
      assert.deepEqual(checkNotice(FROM, { type: 'notice', level: 'warning', message: 'WebGPU failed' }), { level: 'warning', message: 'WebGPU failed' });
      assert.throws(() => checkNotice(FROM, { type: 'notice', level: 'error', message: 'x' }), refused(/neither 'info' nor 'warning'/));
      assert.throws(() => checkNotice(FROM, { type: 'notice', level: 'info', message: 'x'.repeat(LIMITS.message + 1) }), refused(/longer/));
    });

    it('takes only a layer the model has, and channels in range', () => {
      assert.equal(checkLayer('The Layers view', '/features/Relu', ['/features/Relu', 'conv10']), '/features/Relu');
      assert.throws(() => checkLayer('The Layers view', '../../etc', ['conv10']), refused(/no such layer/));
      assert.throws(() => checkLayer('The Layers view', { name: 'conv10' }, ['conv10']), refused(/not a string/));
      assert.throws(() => checkLayer('The Layers view', '', ['conv10']), refused(/empty/));
      assert.equal(checkChannel('The Layers view', 3, 4), 3);
      for (const c of [4, -1, 1.5, NaN, '3', null]) assert.throws(() => checkChannel('The Layers view', c, 4), refused(), String(c));
    });

    it('checks the layers state the panel reports and keeps only its known fields', () => {
      const state = {
        model: 'm.onnx', image: 'cat.jpg', layers: [{ name: 'conv10', op: 'Conv', node: 'n', shape: [1, 1000, 13, 13] }], defaultLayer: 'conv10',
        thumbnail: { width: 2, height: 1, data: new Uint8ClampedArray(8) }, gates: [], extra: '<script>',
      };
      const s = checkLayersState(FROM, state);
      assert.deepEqual(s.layers, [{ name: 'conv10', op: 'Conv', shape: [1, 1000, 13, 13] }]);
      assert.ok(s.thumbnail.data instanceof Uint8Array);
      assert.equal((s as unknown as Record<string, unknown>).extra, undefined);
      assert.throws(() => checkLayersState(FROM, { ...state, thumbnail: { width: 1000, height: 1000, data: new Uint8Array(8) } }), refused(/4 bytes a pixel/));
      assert.throws(() => checkLayersState(FROM, { ...state, layers: [{ name: 7, op: 'Conv', shape: [] }] }), refused(/not a string/));
    });
  });

  describe('folder-run replies', () => {
    const methods = ['gradcam', 'cam'];
    const output = (o: Record<string, unknown> = {}) => ({ method: 'gradcam', class: 282, label: 'tiger cat', layer: 'conv10', shape: [224, 224], min: 0, max: 1, png: PNG, npy: PNG, ...o });
    const reply = (o: Record<string, unknown> = {}, r: Record<string, unknown> = {}) =>
      checkBatchReply('The folder view', { view: PNG, predictions: [{ index: 282, label: 'tiger cat', score: 0.8 }], outputs: [output(o)], ms: 12, ...r }, methods);

    it('accepts a well-formed reply', () => {
      const r = reply({ gain: { score: 'softmax', before: 0.8, after: 0.1, drop: 0.7, probBefore: 0.8, probAfter: 0.1, logitBefore: 9, logitAfter: 2, erased: 0.2 } });
      assert.equal(r.outputs[0].method, 'gradcam');
      assert.equal(r.outputs[0].gain?.drop, 0.7);
      assert.ok(METHODS.some((m) => m.id === r.outputs[0].method));
    });

    it('refuses a method or class that would name a file elsewhere', () => {
      for (const method of ['/../../x', '../x', 'gradcam/../../x', 'occlusion', '__proto__', 7]) {
        assert.throws(() => reply({ method }), /sent an output for method .* nothing was written for it/, String(method));
      }
      for (const cls of [-1, 1.5, '1/../x', NaN, 2 ** 60]) assert.throws(() => reply({ class: cls }), /nothing was written/, String(cls));
    });

    it('refuses numbers that are not finite, text that is not text, and pictures that are not bytes', () => {
      assert.throws(() => reply({}, { ms: '<img src=x onerror=alert(1)>' }), /not a finite number/);
      assert.throws(() => reply({ min: NaN }), /not a finite number/);
      assert.throws(() => reply({ label: { html: '<b>' } }), /not a string/);
      assert.throws(() => reply({ png: 'data:image/png;base64,' }), /not bytes/);
      assert.throws(() => reply({}, { view: null }), /not bytes/);
      assert.throws(() => reply({}, { predictions: [{ index: 1, label: 'x', score: Infinity }] }), /not a finite number/);
      assert.throws(() => reply({ gain: { score: 'softmax', before: '0.8' } }), /not a finite number/);
      assert.throws(() => reply({ gain: { score: '<b>' } }), /neither 'logit' nor 'softmax'/);
      assert.throws(() => reply({ shape: [224, -1] }), /not a whole number/);
    });
  });

  describe('where a setting or a sidecar may point', () => {
    const folders = [WS];

    it("refuses lookCloser.model = '../../../../etc/passwd' and absolute paths outside the workspace", () => {
      const p = placeSettingPath('../../../../etc/passwd', { trusted: true, folders, absolute: false });
      assert.deepEqual(p, { ok: false, why: 'it points outside the workspace folder' });
      assert.equal(placeSettingPath('/etc/passwd', { trusted: true, folders, absolute: true }).ok, false);
      assert.equal(placeSettingPath('models/../../ws-other/m.onnx', { trusted: true, folders, absolute: false }).ok, false);
      assert.equal(placeSettingPath('..\\..\\etc\\passwd', { trusted: true, folders, absolute: false }).ok, false, 'backslashes count as separators');
    });

    it('keeps a path inside the workspace, in the folder of the image first', () => {
      const other = { scheme: 'file', authority: '', path: '/data/other' };
      const p = placeSettingPath('models/m.onnx', { trusted: true, folders: [WS, other], near: other, absolute: false });
      assert.ok(p.ok);
      assert.deepEqual(p.candidates.map((c) => c.path), ['/data/other/models/m.onnx', '/home/u/ws/models/m.onnx']);
      const abs = placeSettingPath('/home/u/ws/m.onnx', { trusted: true, folders: [WS, other], absolute: true });
      assert.ok(abs.ok);
      assert.deepEqual(abs.candidates.map((c) => c.path), ['/home/u/ws/m.onnx']);
      const back = placeSettingPath('a/../m.onnx', { trusted: true, folders, absolute: false });
      assert.ok(back.ok && back.candidates[0].path === '/home/u/ws/m.onnx');
    });

    it('never uses the setting in an untrusted workspace or without a workspace folder', () => {
      const p = placeSettingPath('m.onnx', { trusted: false, folders, absolute: false });
      assert.ok(!p.ok && /not trusted \(Restricted Mode\)/.test(p.why));
      const none = placeSettingPath('m.onnx', { trusted: true, folders: [], absolute: false });
      assert.ok(!none.ok && /no workspace folder/.test(none.why));
    });

    it("refuses a sidecar's labels = '../../../../etc/passwd' and keeps labels beside the model", () => {
      const model = { ...WS, path: '/home/u/ws/models/m.onnx' };
      assert.equal(placeSidecarLabels('../../../../etc/passwd', model, folders).ok, false);
      assert.equal(placeSidecarLabels('/etc/passwd', model, folders).ok, false);
      assert.equal(placeSidecarLabels('..\\..\\..\\..\\etc\\passwd', model, folders).ok, false);
      const ok = placeSidecarLabels('../labels/l.txt', model, folders);
      assert.ok(ok.ok && ok.candidates[0].path === '/home/u/ws/labels/l.txt');
    });
  });

  it('declares Restricted Mode (lookCloser.model restricted) and virtual workspaces in package.json', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
    const untrusted = pkg.capabilities.untrustedWorkspaces;
    assert.equal(untrusted.supported, 'limited');
    assert.deepEqual(untrusted.restrictedConfigurations, ['lookCloser.model']);
    assert.match(untrusted.description, /lookCloser\.model/);
    assert.equal(pkg.capabilities.virtualWorkspaces, true);
    assert.ok(pkg.contributes.configuration.properties['lookCloser.model'], 'the restricted setting exists');
  });

  it('quotes hostile values short', () => {
    assert.equal(quote('x'.repeat(100), 10), '"xxxxxxxxxx…" (100 characters)');
    assert.equal(quote(undefined), 'undefined');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.equal(quote(cyclic), 'object');
  });
});
