/**
 * Times the strided-adjoint micro models of bench/strided-adjoints.py in process CPU time (stable on a loaded
 * machine), each variant checked against the ConvTranspose one (max |difference|):
 *
 *   /usr/bin/python3 bench/strided-adjoints.py /tmp/adj 5
 *   npx tsx bench/strided-adjoints.ts /tmp/adj wasm|node [reps] stem_ct stem_ph l2_ct l2_ph … mp_ct mp_c2i mp_t
 *
 * onnxruntime-web runs one wasm thread; onnxruntime-node one intra-op thread with every optimisation (NCHWc).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

interface OrtTensor { readonly data: Float32Array; readonly dims: readonly number[] }
interface Ort {
  env: { wasm?: { numThreads?: number } };
  Tensor: new (type: string, data: Float32Array, dims: readonly number[]) => unknown;
  InferenceSession: { create(b: Uint8Array, o: Record<string, unknown>): Promise<{ run(f: Record<string, unknown>): Promise<Record<string, OrtTensor>>; release(): Promise<void> }> };
}

async function main(): Promise<void> {
  const [dir, backend, repsArg, ...names] = process.argv.slice(2);
  const ort = (backend === 'node' ? require('onnxruntime-node') : require('onnxruntime-web')) as Ort;
  if (backend !== 'node' && ort.env.wasm) ort.env.wasm.numThreads = 1;
  const opts = backend === 'node' ? { executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 3 } : { executionProviders: ['wasm'], logSeverityLevel: 3 };
  const shapes = JSON.parse(fs.readFileSync(path.join(dir, 'shapes.json'), 'utf8')) as Record<string, number[]>;
  const reps = Number(repsArg);
  const results = new Map<string, Float32Array>();
  for (const n of names) {
    const s = await ort.InferenceSession.create(new Uint8Array(fs.readFileSync(path.join(dir, `${n}.onnx`))), opts);
    const dims = shapes[n.replace(/_\w+$/, '')];
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    let seed = 1;
    for (let i = 0; i < data.length; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      data[i] = seed / 0x7fffffff - 0.5;
    }
    const feeds = { g: new ort.Tensor('float32', data, dims) };
    let out = await s.run(feeds);
    const t: number[] = [];
    for (let i = 0; i < reps; i++) {
      const a = process.cpuUsage();
      out = await s.run(feeds);
      const d = process.cpuUsage(a);
      t.push((d.user + d.system) / 1000);
    }
    t.sort((a, b) => a - b);
    const y = out.y.data;
    results.set(n, y);
    const ref = results.get(n.replace(/_\w+$/, '_ct'));
    let note = '';
    if (ref && ref !== y) {
      let m = 0;
      for (let i = 0; i < y.length; i++) m = Math.max(m, Math.abs(y[i] - ref[i]));
      note = `  max |Δ| vs ConvTranspose ${m.toExponential(2)}`;
    }
    process.stdout.write(`${backend} ${n.padEnd(8)} CPU median ${t[t.length >> 1].toFixed(2)} ms (min ${t[0].toFixed(2)})${note}\n`);
    await s.release();
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
