/**
 * The configs models ship with: a Hugging Face `preprocessor_config.json` and `config.json` (`id2label`), or a
 * timm `config.json`, beside the model give its preprocessing and labels with no sidecar, and --json says so.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../../src/cli/main';
import { readModelConfigs } from '../../src/core/model-configs';
import { onnx } from '../../src/core/onnx/model';
import { float32 } from '../../src/core/tensor';
import { ROOT, SQUEEZENET, TWO_CLASS } from '../support/paths';
import { tinyModel } from '../support/tiny-model';

const IMAGENET: string[] = JSON.parse(fs.readFileSync(path.join(ROOT, 'assets', 'labels', 'imagenet-simple-labels.json'), 'utf8'));

/** Runs the CLI and returns its --json output (or its error message). */
async function cliJson(args: string[]): Promise<{ code: number; json?: Record<string, unknown>; error: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => out.push(a.join(' '));
  console.error = (...a: unknown[]) => err.push(a.join(' '));
  try {
    const code = await main([...args, '--json']);
    return { code, json: code === 0 ? JSON.parse(out.join('\n')) : undefined, error: err.join('\n') };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

describe("configs that models ship with (Hugging Face, timm)", function () {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lc-configs-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** A copy of the bundled SqueezeNet in its own folder with the given config files. */
  const withConfigs = (name: string, files: Record<string, unknown>) => {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    const model = path.join(dir, 'model.onnx');
    fs.copyFileSync(SQUEEZENET, model);
    for (const [f, v] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), typeof v === 'string' ? v : JSON.stringify(v));
    return model;
  };
  const id2label = Object.fromEntries(IMAGENET.map((l, i) => [String(i), `hf ${l}`]));

  it('a Hugging Face ViT-style processor: squash to its size, its mean/std and rescale; labels from id2label', async () => {
    const model = withConfigs('vit', {
      'preprocessor_config.json': { image_processor_type: 'ViTImageProcessor', do_resize: true, size: { height: 224, width: 224 }, resample: 2, do_rescale: true, rescale_factor: 1 / 255, do_normalize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] },
      'config.json': { architectures: ['ViTForImageClassification'], id2label },
    });
    const r = await cliJson(['predict', model, TWO_CLASS]);
    assert.equal(r.code, 0, r.error);
    const pre = r.json!.preprocessing as Record<string, unknown>;
    assert.equal(pre.source, 'hf-config');
    assert.equal(pre.resize, 'squash');
    assert.deepEqual(pre.mean, [0.5, 0.5, 0.5]);
    assert.match(String(pre.reason), /preprocessor_config\.json: ViTImageProcessor, 224×224/);
    const top = (r.json!.predictions as { index: number; label: string }[])[0];
    assert.equal(top.label, `hf ${IMAGENET[top.index]}`);
  });

  it('ConvNeXt-style crop_pct: shortest edge to size/crop_pct, then a centre crop; bicubic is said to be approximated', () => {
    const s = readModelConfigs({ preprocessor: { name: 'preprocessor_config.json', text: JSON.stringify({ image_processor_type: 'ConvNextImageProcessor', size: { shortest_edge: 224 }, crop_pct: 0.875, resample: 3, image_mean: [0.485, 0.456, 0.406], image_std: [0.229, 0.224, 0.225] }) } });
    assert.equal(s.preprocessing!.preprocessing.resize, 'center-crop');
    assert.equal(s.preprocessing!.preprocessing.resizeShorter, 256);
    assert.deepEqual(s.preprocessing!.inputSize, [224, 224]);
    assert.match(s.preprocessing!.reason, /bicubic resampling is approximated/);
  });

  it("a timm config: pretrained_cfg's input size, crop_pct, mean and std; label_names", async () => {
    const model = withConfigs('timm', {
      'config.json': { architecture: 'resnet50', num_classes: 1000, label_names: IMAGENET.map((l) => `timm ${l}`), pretrained_cfg: { input_size: [3, 224, 224], interpolation: 'bicubic', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], crop_pct: 0.95 } },
    });
    const r = await cliJson(['predict', model, TWO_CLASS]);
    assert.equal(r.code, 0, r.error);
    const pre = r.json!.preprocessing as Record<string, unknown>;
    assert.equal(pre.source, 'timm-config');
    assert.equal(pre.resize, 'center-crop');
    assert.equal(pre.resizeShorter, Math.floor(224 / 0.95));
    assert.match((r.json!.predictions as { label: string }[])[0].label, /^timm /);
  });

  it('a sidecar still wins over the configs, and a project config.json that is not a model config is ignored', async () => {
    const model = withConfigs('sidecar', { 'config.json': '{"editor.tabSize": 2, // not JSON', 'model.onnx.json': { preset: 'torchvision' } });
    const r = await cliJson(['predict', model, TWO_CLASS]);
    assert.equal(r.code, 0, r.error);
    assert.equal((r.json!.preprocessing as { source: string }).source, 'sidecar');
  });

  it('labels from a config that do not match the class count are an error naming the file', async () => {
    const model = withConfigs('wrong-labels', { 'config.json': { id2label: { 0: 'cat', 1: 'dog' } } });
    const r = await cliJson(['predict', model, TWO_CLASS]);
    assert.equal(r.code, 2);
    assert.match(r.error, /Labels \(config\.json id2label\) list 2 classes but model\.onnx scores 1000/);
  });

  it('an input named pixel_values with dynamic size takes its size from preprocessor_config.json', async () => {
    const bytes = tinyModel({
      inputs: { pixel_values: [1, 3, 8, 8] },
      nodes: [
        { op: 'GlobalAveragePool', inputs: ['pixel_values'], outputs: ['p'] },
        { op: 'Flatten', inputs: ['p'], outputs: ['f'] },
        { op: 'Gemm', inputs: ['f', 'w'], outputs: ['logits'], attrs: { transB: 1 } },
      ],
      output: 'logits',
      initializers: { w: float32(Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1]), [4, 3]) },
    });
    const m = onnx.ModelProto.decode(bytes);
    m.graph!.input![0].type!.tensorType!.shape!.dim = ['batch', 3, 'height', 'width'].map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
    const dir = path.join(tmp, 'dynamic');
    fs.mkdirSync(dir);
    const model = path.join(dir, 'model.onnx');
    fs.writeFileSync(model, onnx.ModelProto.encode(m).finish());
    fs.writeFileSync(path.join(dir, 'preprocessor_config.json'), JSON.stringify({ size: { height: 64, width: 48 }, image_mean: [0.5], image_std: [0.5] }));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ id2label: { 0: 'red', 1: 'green', 2: 'blue', 3: 'grey' } }));
    const r = await cliJson(['predict', model, TWO_CLASS]);
    assert.equal(r.code, 0, r.error);
    assert.deepEqual((r.json!.preprocessing as { inputSize: unknown }).inputSize, { height: 64, width: 48 });
    assert.ok((r.json!.predictions as { label: string }[]).every((p) => ['red', 'green', 'blue', 'grey'].includes(p.label)));
  });
});
