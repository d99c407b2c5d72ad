/**
 * Fuzz case generators, one per category. Each draws from a seeded generator, writes its files into the
 * case's own folder (the CLI runs there, so default outputs land there too) and says whether its input is
 * known to be invalid, known to be valid, or either.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BaseModel, Corpus, FORMATS, Format, f32bytes, jpegSof, npy, pngClaiming } from './corpus';
import { Rng } from './rng';

/** The kinds of hostile input the harness tries. */
export const CATEGORIES = ['models', 'images', 'npy', 'flags', 'sidecars', 'batch'] as const;
/** One category. */
export type Category = (typeof CATEGORIES)[number];

/** What a case knows about its input: the CLI must refuse 'invalid' input and accept 'valid' input. */
export type Expect = 'valid' | 'invalid' | 'unknown';

/** One CLI run to make. */
export interface FuzzCase {
  readonly category: Category;
  /** What was done, in a few words. */
  readonly label: string;
  /** Arguments after `node dist/cli.js`. */
  readonly args: readonly string[];
  readonly expect: Expect;
  /** Batch cases: the summary to read and the files in it that must be explained. */
  readonly batch?: { readonly summary: string; readonly good: readonly string[] };
}

/** What the CLI offers, read from its --help. */
export interface CliInfo {
  readonly flags: readonly string[];
  readonly booleanFlags: readonly string[];
  readonly methods: readonly string[];
  readonly presets: readonly string[];
  readonly colormaps: readonly string[];
}

/** Everything a generator needs. */
export interface CaseContext {
  readonly rng: Rng;
  readonly corpus: Corpus;
  /** The case's folder (absolute); the CLI's working directory. */
  readonly dir: string;
  readonly cli: CliInfo;
}

const PROTO_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'];

function write(ctx: CaseContext, name: string, bytes: Uint8Array | string): string {
  const p = path.join(ctx.dir, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, bytes);
  return p;
}

/** Flips `k` random bytes (xor with a non-zero value) in [from, to). */
function flip(rng: Rng, b: Uint8Array, k: number, from = 0, to = b.length): Uint8Array {
  const out = Uint8Array.from(b);
  const hi = Math.max(from + 1, Math.min(to, out.length));
  for (let i = 0; i < k && out.length; i++) out[rng.int(from, hi - 1)] ^= rng.int(1, 255);
  return out;
}

/** A structural mutation of a file's bytes, named. */
function mutate(rng: Rng, b: Uint8Array, headerBytes: number): { bytes: Uint8Array; what: string; known: Expect } {
  const kind = rng.weighted({ flipHead: 4, flip: 3, truncate: 3, tiny: 1, zero: 1, dup: 1, garbage: 1 });
  switch (kind) {
    case 'flipHead': {
      const k = rng.int(1, 6);
      return { bytes: flip(rng, b, k, 0, headerBytes), what: `${k} header byte(s) flipped`, known: 'unknown' };
    }
    case 'flip': {
      const k = rng.int(1, 32);
      return { bytes: flip(rng, b, k), what: `${k} byte(s) flipped`, known: 'unknown' };
    }
    case 'truncate': {
      const at = rng.int(1, Math.max(1, b.length - 1));
      return { bytes: b.subarray(0, at), what: `truncated to ${at} of ${b.length} bytes`, known: 'unknown' };
    }
    case 'tiny': {
      const at = rng.int(0, 12);
      return { bytes: b.subarray(0, at), what: `truncated to ${at} bytes`, known: 'invalid' };
    }
    case 'zero': {
      const at = rng.int(0, b.length - 1);
      const n = rng.int(1, 4096);
      const out = Uint8Array.from(b);
      out.fill(0, at, at + n);
      return { bytes: out, what: `${n} bytes zeroed at ${at}`, known: 'unknown' };
    }
    case 'dup': {
      const at = rng.int(0, b.length - 1);
      const n = rng.int(1, 2048);
      const chunk = b.subarray(at, at + n);
      return { bytes: Buffer.concat([b.subarray(0, at), chunk, chunk, b.subarray(at + n)]), what: `${chunk.length} bytes at ${at} doubled`, known: 'unknown' };
    }
    default: {
      const n = rng.int(1, 4096);
      return { bytes: Buffer.concat([b, rng.bytes(n)]), what: `${n} random bytes appended`, known: 'unknown' };
    }
  }
}

/** Puts a model (symlink) and its sidecar into the case folder. */
function placeModel(ctx: CaseContext, m: BaseModel, bytes?: Uint8Array, sidecar = m.sidecar): string {
  const p = path.join(ctx.dir, `${m.name}.onnx`);
  if (bytes) fs.writeFileSync(p, bytes);
  else fs.symlinkSync(m.path, p);
  if (sidecar !== undefined) fs.writeFileSync(`${p}.json`, sidecar);
  return p;
}

/** A command over a model and an input, cheap enough for the CI slice. */
function command(ctx: CaseContext, model: string, input: string, m: BaseModel, extra: readonly string[] = []): string[] {
  const { rng } = ctx;
  const cmd = rng.weighted({ predict: 6, explain: m.cost === 1 ? 3 : 1, layers: 1 });
  if (cmd === 'layers') return ['layers', model, ...extra];
  if (cmd === 'predict') return ['predict', model, input, ...(rng.chance(0.3) ? ['--json'] : []), ...extra];
  const method = rng.pick(['gradcam', 'guided-backprop', 'saliency', 'occlusion', 'guided-gradcam', 'attention-crop']);
  return ['explain', model, input, '--method', method, '--out', 'out', ...(rng.chance(0.3) ? ['--json'] : []), ...extra];
}

/** Mutated models: the bundled SqueezeNet and the test models, byte-flipped, truncated, zeroed, padded. */
function models(ctx: CaseContext): FuzzCase {
  const { rng, corpus } = ctx;
  const m = corpus.models[rng.weighted({ mnist: 4, burn: 3, squeezenet: 2 })];
  const bytes = fs.readFileSync(m.path);
  const pick = rng.weighted({ mutate: 10, random: 1, valid: 1 });
  let out: { bytes: Uint8Array; what: string; known: Expect };
  if (pick === 'valid') out = { bytes, what: 'unchanged', known: 'valid' };
  else if (pick === 'random') out = { bytes: rng.bytes(rng.int(1, 4096)), what: 'random bytes', known: 'invalid' };
  else out = mutate(rng, bytes, 2048);
  const model = placeModel(ctx, m, out.bytes);
  return { category: 'models', label: `${m.name}: ${out.what}`, args: command(ctx, model, m.image, m), expect: out.known };
}

/** Dimensions a crafted header may claim, with whether Look Closer must refuse them. */
function claim(rng: Rng, maxSide: number): { w: number; h: number; refuse: boolean } {
  const sizes: [number, number][] = [
    [1, 100_000_000], [100_000_000, 1], [0, 0], [1, 1], [65535, 65535], [2, 2_000_000], [3, 10000], [20000, 20000],
    [10000, 10000], [2 ** 31 - 1, 2 ** 31 - 1], [2 ** 32 - 1, 5], [8000, 6000], [5000, 5], [12000, 8334],
  ];
  const [w0, h0] = rng.pick(sizes);
  const w = Math.min(w0, maxSide);
  const h = Math.min(h0, maxSide);
  const refuse = w < 2 || h < 2 || w * h > 100_000_000 || Math.max(w, h) / Math.min(w, h) > 1000;
  return { w, h, refuse };
}

/** A decompression bomb or degenerate size in the header of a format. */
function bomb(ctx: CaseContext, f: Format): { bytes: Uint8Array; what: string; known: Expect } {
  const { rng, corpus } = ctx;
  const base = Buffer.from(fs.readFileSync(corpus.images[f]));
  const max = { png: 2 ** 32 - 1, jpeg: 65535, gif: 65535, webp: 16383, tiff: 2 ** 32 - 1, bmp: 2 ** 31 - 1 }[f];
  const { w, h, refuse } = claim(rng, max);
  const what = `${f} header claiming ${w}×${h}`;
  // A header that is believed but whose data is far too short is "unknown": decoders pad missing data.
  const known: Expect = refuse ? 'invalid' : 'unknown';
  switch (f) {
    case 'png':
      return { bytes: pngClaiming(w, h, rng.int(0, 20000)), what, known };
    case 'jpeg': {
      const sof = jpegSof(base);
      base.writeUInt16BE(h, sof + 5);
      base.writeUInt16BE(w, sof + 7);
      return { bytes: base, what, known };
    }
    case 'gif': {
      // The logical screen and the first frame's descriptor (after the colour table and any extensions).
      base.writeUInt16LE(w, 6);
      base.writeUInt16LE(h, 8);
      let o = 13 + (base[10] & 0x80 ? 3 * 2 ** ((base[10] & 7) + 1) : 0);
      while (base[o] === 0x21) {
        o += 2;
        while (base[o] > 0) o += base[o] + 1;
        o++;
      }
      if (base[o] === 0x2c) {
        base.writeUInt16LE(w, o + 5);
        base.writeUInt16LE(h, o + 7);
      }
      return { bytes: base, what, known };
    }
    case 'webp': {
      if (base.toString('latin1', 12, 16) === 'VP8 ') {
        base.writeUInt16LE(w & 0x3fff, 26);
        base.writeUInt16LE(h & 0x3fff, 28);
      }
      return { bytes: base, what, known };
    }
    case 'tiff': {
      const le = base.toString('latin1', 0, 2) === 'II';
      const u16 = (o: number) => (le ? base.readUInt16LE(o) : base.readUInt16BE(o));
      const ifd = le ? base.readUInt32LE(4) : base.readUInt32BE(4);
      for (let i = 0; i < u16(ifd); i++) {
        const e = ifd + 2 + i * 12;
        const tag = u16(e);
        if (tag !== 256 && tag !== 257) continue;
        const v = tag === 256 ? w : h;
        if (le) {
          base.writeUInt16LE(4, e + 2);
          base.writeUInt32LE(v, e + 8);
        } else {
          base.writeUInt16BE(4, e + 2);
          base.writeUInt32BE(v, e + 8);
        }
      }
      return { bytes: base, what, known };
    }
    default: {
      const hh = rng.chance(0.3) ? -h : h;
      base.writeInt32LE(w | 0, 18);
      base.writeInt32LE(hh | 0, 22);
      return { bytes: base, what: `bmp header claiming ${w}×${hh}`, known };
    }
  }
}

/** Images of every format: valid, byte-flipped, truncated, crafted bombs, garbage behind a magic number. */
function images(ctx: CaseContext): FuzzCase {
  const { rng, corpus } = ctx;
  const f = rng.pick(FORMATS);
  const kind = rng.weighted({ valid: 2, mutate: 7, bomb: 4, magic: 1, empty: 0.5, photo: 0.5 });
  let out: { bytes: Uint8Array; what: string; known: Expect };
  if (kind === 'valid') out = { bytes: fs.readFileSync(corpus.images[f]), what: `valid ${f}`, known: 'valid' };
  else if (kind === 'photo') {
    const p = rng.pick(corpus.photos);
    out = mutate(rng, fs.readFileSync(p), 256);
    out = { ...out, what: `${path.basename(p)}: ${out.what}` };
  } else if (kind === 'bomb') out = bomb(ctx, f);
  else if (kind === 'magic') {
    const magic = fs.readFileSync(corpus.images[f]).subarray(0, 4);
    out = { bytes: Buffer.concat([magic, rng.bytes(rng.int(0, 2000))]), what: `${f} magic then random bytes`, known: 'invalid' };
  } else if (kind === 'empty') out = { bytes: new Uint8Array(0), what: 'empty file', known: 'invalid' };
  else {
    out = mutate(rng, fs.readFileSync(corpus.images[f]), 64);
    out = { ...out, what: `${f}: ${out.what}` };
  }
  const ext = rng.chance(0.1) ? rng.pick(['png', 'jpg', 'txt', 'PNG', '']) : f === 'jpeg' ? 'jpg' : f;
  const img = write(ctx, `img${ext ? `.${ext}` : ''}`, out.bytes);
  const m = rng.chance(0.85) ? corpus.models.mnist : corpus.models.squeezenet;
  const model = m === corpus.models.mnist ? m.path : placeModel(ctx, m);
  const args = command(ctx, model, img, m);
  return { category: 'images', label: out.what, args: args[0] === 'layers' ? ['predict', model, img] : args, expect: out.known };
}

/** .npy inputs: dtypes, byte orders, shapes, Fortran order, headers and data cut short, non-finite values. */
function npyCase(ctx: CaseContext): FuzzCase {
  const { rng, corpus } = ctx;
  const n = 784;
  const values = Array.from({ length: n }, (_, i) => ((i * 31) % 255) / 255);
  const good = `{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 28, 28), }`;
  type Variant = { header?: string; data?: Uint8Array; raw?: Uint8Array; what: string; known: Expect };
  const variants: Record<string, () => Variant> = {
    valid: () => ({ what: 'valid', known: 'valid' }),
    dtype: () => {
      const d = rng.pick(['<f8', '>f4', '<f2', '<i8', '|u1', '|b1', '<i4', '<c8', '|O', '<U4', '|S3', '<f16', 'float32', '<q', '', "'"]);
      return { header: good.replace('<f4', d), what: `dtype ${JSON.stringify(d)}`, known: ['<c8', '|O', '<U4', '|S3', '<f16', 'float32', '<q', '', "'"].includes(d) ? 'invalid' : 'unknown' };
    },
    fortran: () => ({ header: good.replace('False', rng.pick(['True', 'true', '1', 'None'])), what: 'fortran_order changed', known: 'unknown' }),
    shape: () => {
      const s = rng.pick(['(784,)', '(1, 1, 28, 27)', '(1, 1, -28, 28)', '(1000000000000, 1)', '(0, 1, 28, 28)', '(1, 3, 28, 28)', '()', '(1, 1, 28, 28, 1)', '(28, 28)', `(${Array(40).fill(1).join(', ')}, 784)`, '(1, 1, 28.5, 28)', '(1, 1, 2**4, 49)', '(1,1,28,28']);
      const known: Expect = ['(784,)', '(28, 28)', '(1, 1, 28, 28, 1)'].includes(s) || s.startsWith('(1, 1, 1,') ? 'unknown' : 'invalid';
      return { header: good.replace('(1, 1, 28, 28)', s), what: `shape ${s.slice(0, 40)}`, known };
    },
    header: () => {
      const h = rng.pick(['[]', '', 'garbage', "{'descr': '<f4'}", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 28, 28), '__proto__': {'x': 1}}", '{"descr": "<f4", "fortran_order": false, "shape": [1, 1, 28, 28]}', `{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 28, 28), 'x': '${'a'.repeat(70000)}'}`]);
      // Extra keys (numpy itself refuses them) are read leniently.
      const known: Expect = h.includes('__proto__') || h.includes("'x': ") ? 'unknown' : 'invalid';
      return { header: h, what: `header ${JSON.stringify(h.slice(0, 40))}`, known };
    },
    version: () => {
      const raw = Buffer.from(npy(good, f32bytes(values)));
      raw[6] = rng.pick([0, 2, 3, 9, 255]);
      return { raw, what: `format version ${raw[6]}`, known: raw[6] === 2 || raw[6] === 3 ? 'unknown' : 'invalid' };
    },
    magic: () => {
      const raw = Buffer.from(npy(good, f32bytes(values)));
      raw[rng.int(0, 5)] ^= 0x20;
      return { raw, what: 'magic damaged', known: 'invalid' };
    },
    headerLength: () => {
      const raw = Buffer.from(npy(good, f32bytes(values)));
      raw.writeUInt16LE(rng.pick([0, 1, 65535, raw.length]), 8);
      return { raw, what: `header length ${raw.readUInt16LE(8)}`, known: 'invalid' };
    },
    truncated: () => {
      const raw = npy(good, f32bytes(values));
      const at = rng.int(0, raw.length - 1);
      return { raw: raw.subarray(0, at), what: `truncated to ${at} of ${raw.length} bytes`, known: 'invalid' };
    },
    trailing: () => ({ data: Buffer.concat([f32bytes(values), rng.bytes(rng.int(1, 100))]), what: 'trailing bytes', known: 'unknown' }),
    nonFinite: () => {
      const v = [...values];
      const bad = rng.pick([NaN, Infinity, -Infinity]);
      v[rng.int(0, n - 1)] = bad;
      return { data: f32bytes(v), what: `${bad} in the data`, known: 'invalid' };
    },
    huge: () => ({ data: f32bytes(values.map((x) => x * 3e38)), what: 'values near float32 max', known: 'unknown' }),
  };
  const key = rng.weighted({ valid: 1, dtype: 3, fortran: 1, shape: 3, header: 2, version: 1, magic: 1, headerLength: 1, truncated: 2, trailing: 1, nonFinite: 2, huge: 1 });
  const v = variants[key]();
  const bytes = v.raw ?? npy(v.header ?? good, v.data ?? f32bytes(values));
  const file = write(ctx, 'x.npy', bytes);
  const m = corpus.models.mnist;
  const args = command(ctx, m.path, file, m);
  return { category: 'npy', label: v.what, args: args[0] === 'layers' ? ['predict', m.path, file] : args, expect: v.known };
}

/** A labels file: text or JSON, plausible or hostile (objects, deep nesting, null, binary). */
function labelsFile(ctx: CaseContext): { path: string; what: string; known: Expect } {
  const { rng } = ctx;
  const kind = rng.weighted({ text: 2, json: 2, objects: 1, nested: 1, deep: 1, mixed: 1, empty: 1, binary: 1, huge: 0.5 });
  const ten = Array.from({ length: 10 }, (_, i) => `digit ${i}`);
  const body: Record<typeof kind, () => [string | Uint8Array, Expect]> = {
    text: () => [rng.pick([ten.join('\n'), ten.slice(0, 3).join('\n'), `\n\n${ten.join('\r\n')}\n\n`, Array(5000).fill('x').join('\n')]), 'unknown'],
    json: () => [JSON.stringify(rng.pick([ten, ten.slice(0, 4), [...ten, ...ten], Array.from({ length: 10 }, (_, i) => i)])), 'unknown'],
    objects: () => [JSON.stringify(ten.map((t) => ({ t }))), 'invalid'],
    nested: () => [JSON.stringify(ten.map((t) => [t])), 'invalid'],
    deep: () => [`[${'['.repeat(20000)}"x"${']'.repeat(20000)}]`, 'invalid'],
    mixed: () => [JSON.stringify([...ten.slice(0, 9), rng.pick([null, true, {}, []])]), 'invalid'],
    empty: () => ['', 'unknown'],
    binary: () => [rng.bytes(rng.int(1, 300)), 'unknown'],
    huge: () => [`[${Array(300000).fill('"a"').join(',')}]`, 'unknown'],
  };
  const [text, known] = body[kind]();
  return { path: write(ctx, `labels-${rng.int(0, 1e9)}.txt`, text), what: `labels ${kind}`, known };
}

const INT_FLAGS: Readonly<Record<string, [number, number]>> = { top: [1, 1_000_000], 'input-size': [8, 4096], 'batch-size': [1, 1_000_000], channel: [0, 1_000_000] };
const ENUM_FLAGS = ['method', 'colormap', 'preset', 'target', 'backend'];

/** A value for a flag: often hostile, sometimes valid. */
function flagValue(ctx: CaseContext, flag: string): string {
  const { rng, cli, corpus } = ctx;
  const valid: Record<string, string[]> = {
    method: [...cli.methods], colormap: [...cli.colormaps], preset: [...cli.presets], target: ['logit', 'softmax'], backend: ['auto', 'node', 'wasm'],
    top: ['1', '3', '10'], 'input-size': ['28', '64'], 'batch-size': ['1', '4'], channel: ['0', '3'], alpha: ['0', '0.5', '1'],
    class: ['3', '0,1', '9'], layer: ['Pooling160_Output_0', 'ReLU114_Output_0'], position: ['1,2', '0,0'], labels: [corpus.labels],
    out: ['out', 'a/b/c'], patch: ['4', '7'], stride: ['2', '3'], scales: ['2', '3'], threshold: ['0.5'], 'map-method': ['gradcam', 'saliency'],
    'min-half-side': ['0.3'], proposal: ['max', 'mean'], 'proposal-units': ['pixels', 'grid'],
  };
  const hostile = [
    ...PROTO_KEYS, '-1', '0', '2.5', '1e309', '1e3', 'NaN', 'Infinity', '-Infinity', '', ' ', '99999999999999999999', 'abc', '1,2', '0x10', '--',
    '猫', '\n', 'x'.repeat(rng.int(256, 10000)), '9007199254740993', '-0', '+5', ' 5 ', '5;rm -rf /', '${HOME}', '%s%n',
  ];
  if (flag === 'out') return rng.pick(['out', 'a/b/c', '', ' ', '__proto__', '/proc/x', '/dev/null', '/dev/null/x', 'x'.repeat(300), '.', 'out/../out2', 'con']);
  if (flag === 'labels') return rng.chance(0.5) ? labelsFile(ctx).path : rng.pick([corpus.labels, '/dev/zero', '/proc/self/status', 'missing.txt', '.', corpus.digits[0], '__proto__', '']);
  if (rng.chance(0.35) && valid[flag]) return rng.pick(valid[flag]);
  return rng.pick(hostile);
}

/** Whether a flag's value is known to be refused. */
function refused(flag: string, value: string, cli: CliInfo): boolean {
  if (INT_FLAGS[flag]) {
    const [lo, hi] = INT_FLAGS[flag];
    const n = /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
    return !(Number.isSafeInteger(n) && n >= lo && n <= hi);
  }
  if (flag === 'alpha') return !(value.trim() !== '' && Number(value) >= 0 && Number(value) <= 1);
  const sets: Record<string, readonly string[]> = { colormap: cli.colormaps, preset: cli.presets, target: ['logit', 'softmax'], backend: ['auto', 'node', 'wasm'], method: cli.methods };
  return ENUM_FLAGS.includes(flag) && !sets[flag].includes(value);
}

/** Random values for every flag (prototype keys, negative, huge, empty, NaN), unknown flags, odd positionals. */
function flags(ctx: CaseContext): FuzzCase {
  const { rng, corpus, cli } = ctx;
  const m = corpus.models.mnist;
  const img = m.image;
  const cmd = rng.weighted({ predict: 4, explain: 5, layers: 1, attention: 1, project: 1 });
  const positionals: string[] = cmd === 'layers' ? [m.path] : [m.path, img];
  const values = new Map<string, string | true>();
  if (cmd === 'explain') values.set('method', rng.pick(['gradcam', 'saliency', 'guided-backprop', 'occlusion', 'attention-crop']));
  if (cmd === 'project') {
    values.set('layer', 'Convolution110_Output_0');
    values.set('channel', '3');
  }
  if (cmd !== 'predict' && cmd !== 'layers') values.set('out', 'out');
  const notes: string[] = [];
  let known: Expect = 'unknown';
  const changes = rng.int(1, 4);
  for (let i = 0; i < changes; i++) {
    const what = rng.weighted({ flag: 8, unknownFlag: 1, positional: 1, booleanValue: 1 });
    if (what === 'unknownFlag') {
      const name = rng.pick(['foo', 'methods', 'Top', '__proto__', 'constructor', 'toString', 'h', '-', 'no-json']);
      values.set(name, rng.pick(['1', true]));
      notes.push(`--${name}`);
      known = 'invalid';
    } else if (what === 'booleanValue') {
      const name = rng.pick(cli.booleanFlags.filter((f) => f !== 'help'));
      values.set(`${name}=${rng.pick(['1', 'yes', ''])}`, true);
      notes.push(`--${name}=…`);
      known = 'invalid';
    } else if (what === 'positional') {
      const p = rng.pick(['missing.onnx', '/dev/zero', '/dev/null', ctx.dir, img, corpus.labels, corpus.digitNpy, '', '-', '__proto__']);
      const at = rng.int(0, positionals.length);
      if (rng.chance(0.5) && positionals.length) positionals[Math.min(at, positionals.length - 1)] = p;
      else positionals.splice(at, 0, p);
      notes.push(`positional ${JSON.stringify(p.slice(-30))}`);
    } else {
      const flag = rng.pick(cli.flags.filter((f) => !cli.booleanFlags.includes(f)));
      const value = flagValue(ctx, flag);
      values.set(flag, value);
      notes.push(`--${flag} ${JSON.stringify(value.length > 24 ? `${value.slice(0, 20)}…(${value.length})` : value)}`);
      if (refused(flag, value, cli) && !(flag === 'method' && cmd !== 'explain') && !(flag === 'channel' && cmd !== 'project')) {
        // Flags a command does not read are ignored, so only flags it reads are known to be refused.
        const reads: Record<string, readonly string[]> = {
          predict: ['top', 'input-size', 'preset', 'backend'], layers: ['input-size', 'preset', 'backend'],
          explain: ['top', 'input-size', 'preset', 'backend', 'method', 'colormap', 'alpha', 'target'],
          attention: ['input-size', 'preset', 'backend', 'colormap', 'alpha'], project: ['input-size', 'preset', 'backend', 'channel'],
        };
        if (reads[cmd].includes(flag)) known = 'invalid';
      }
    }
  }
  if (values.has('help')) known = 'unknown';
  const args = [cmd, ...positionals];
  for (const [k, v] of values) {
    if (v === true) args.push(`--${k}`);
    else args.push(`--${k}`, v);
  }
  return { category: 'flags', label: `${cmd} ${notes.join(' ')}`, args, expect: positionals.length !== (cmd === 'layers' ? 1 : 2) ? 'unknown' : known };
}

/** A random preprocessing object, mostly plausible. */
function preprocessing(rng: Rng, presets: readonly string[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const pick = <T>(xs: readonly T[]) => rng.pick(xs);
  if (rng.chance(0.6)) o.preset = pick([...presets, 'nope', '__proto__', '', 5]);
  if (rng.chance(0.4)) o.mean = pick([[0.5], [0.1, 0.2, 0.3], [], [1, 2], ['a'], 5, [1e308, 0, 0], null]);
  if (rng.chance(0.4)) o.std = pick([[0.5], [0.1, 0.2, 0.3], [0], [-1], [1e-320], [], 'x']);
  if (rng.chance(0.3)) o.scale = pick([1, 1 / 255, 0, -1, 1e308, 1e6, '1']);
  if (rng.chance(0.3)) o.resize = pick(['center-crop', 'squash', 'nope', 5]);
  if (rng.chance(0.2)) o.resizeShorter = pick([256, 0, -5, 1e9, 2.5]);
  if (rng.chance(0.2)) o.channels = pick(['rgb', 'bgr', 'gray', 'rgba', 3]);
  if (rng.chance(0.2)) o.interpolation = pick(['bilinear', 'nearest', 'bicubic', 'x']);
  if (rng.chance(0.1)) o[pick(['stdd', 'meen', 'Scale', '__proto__', 'constructor'])] = 1;
  return o;
}

/** Sidecars: random JSON against the schema, invalid JSON, deep nesting, prototype keys, labels that are not files. */
function sidecars(ctx: CaseContext): FuzzCase {
  const { rng, corpus, cli } = ctx;
  const m = corpus.models[rng.weighted({ mnist: 3, burn: 2, squeezenet: 1 })];
  const kind = rng.weighted({ object: 8, invalidJson: 1, notObject: 1, deep: 1, bom: 0.5, empty: 0.5, bytes: 0.5, huge: 0.5 });
  let text: string | Uint8Array;
  let known: Expect = 'unknown';
  let what: string = kind;
  if (kind === 'object') {
    const o: Record<string, unknown> = {};
    const keys = ['preset', 'preprocessing', 'labels', 'inputSize', 'methodOptions'];
    for (const k of keys) if (rng.chance(0.45)) o[k] = null;
    if (rng.chance(0.15)) {
      const typo = rng.pick(['labes', 'Preset', 'input_size', 'methodoptions', ...PROTO_KEYS]);
      o[typo] = 1;
      if (!PROTO_KEYS.includes(typo)) known = 'invalid';
    }
    if ('preset' in o) o.preset = rng.chance(0.5) ? rng.pick([...cli.presets, 'nope', '__proto__', 5, [], null]) : preprocessing(rng, cli.presets);
    if ('preprocessing' in o) o.preprocessing = rng.chance(0.9) ? preprocessing(rng, cli.presets) : rng.pick(['torchvision', 5, []]);
    if ('labels' in o) {
      if (rng.chance(0.5)) {
        const l = labelsFile(ctx);
        o.labels = path.basename(l.path);
        if (l.known === 'invalid') known = 'invalid';
      } else o.labels = rng.pick([corpus.labels, 'missing.txt', '/dev/zero', '/proc/self/status', '', 5, '.', corpus.digits[0], '__proto__']);
    }
    if ('inputSize' in o) o.inputSize = rng.pick([28, 0, -1, 1e9, 4096, 4097, 2.5, '28', [28, 28], [0, 28], [28], [1e6, 1e6], null, true]);
    if ('methodOptions' in o) {
      const mo: Record<string, Record<string, unknown>> = {};
      for (let i = rng.int(0, 3); i > 0; i--) {
        const id = rng.pick([...cli.methods, 'nope', ...PROTO_KEYS]);
        mo[id] = {};
        for (let j = rng.int(0, 3); j > 0; j--) {
          mo[id][rng.pick(['patch', 'stride', 'batch-size', 'scales', 'threshold', 'map-method', 'min-half-side', 'proposal', 'proposal-units', 'nope', '__proto__'])] =
            rng.pick([0, -1, 1, 3, 8, 1e9, 1e308, 0.5, 'gradcam', 'x', true, '', 'NaN']);
        }
      }
      o.methodOptions = mo;
    }
    for (const k of keys) if (k in o && o[k] === null && rng.chance(0.8)) delete o[k];
    text = JSON.stringify(o);
    what = `sidecar ${text.length > 120 ? `${text.slice(0, 117)}…` : text}`;
  } else if (kind === 'invalidJson') {
    text = rng.pick(['{', '{"preset": }', "{'preset': 'unit'}", '{"preset": "unit",}', 'NaN', '{"a": 1} x', '\u0000']);
    known = 'invalid';
  } else if (kind === 'notObject') {
    text = rng.pick(['null', '[]', '"unit"', '1', 'true', '[{"preset": "unit"}]']);
    known = 'invalid';
  } else if (kind === 'deep') {
    const d = rng.pick([100, 10000, 100000]);
    text = `{"preset": ${'{"preset": '.repeat(d)}"unit"${'}'.repeat(d)}}`;
    what = `nesting ${d} deep`;
  } else if (kind === 'bom') {
    text = `\ufeff${JSON.stringify({ preset: 'unit' })}`;
  } else if (kind === 'empty') {
    text = '';
    known = 'invalid';
  } else if (kind === 'bytes') {
    text = rng.bytes(rng.int(1, 500));
    known = 'invalid';
  } else {
    text = JSON.stringify({ preset: { preset: 'unit', mean: Array(rng.pick([1000, 200000])).fill(0.5) } });
    what = 'huge mean list';
  }
  const model = placeModel(ctx, m, undefined, typeof text === 'string' ? text : Buffer.from(text).toString('latin1'));
  if (typeof text !== 'string') fs.writeFileSync(`${model}.json`, text);
  const useOptions = m.cost === 1 && rng.chance(0.3);
  const args = useOptions
    ? ['explain', model, m.image, '--method', rng.pick(['occlusion', 'attention-crop']), '--out', 'out']
    : ['predict', model, m.image];
  return { category: 'sidecars', label: what, args, expect: known };
}

/** Batch folders: good and bad files mixed, long names, symlinks of every kind, subfolders, duplicate stems. */
function batch(ctx: CaseContext): FuzzCase {
  const { rng, corpus } = ctx;
  const folder = path.join(ctx.dir, 'imgs');
  fs.mkdirSync(folder);
  const good: string[] = [];
  const notes: string[] = [];
  let bad = 0;
  let listed = 0;
  const n = rng.int(1, 6);
  for (let i = 0; i < n; i++) {
    const kind = rng.weighted({ digit: 5, format: 2, npy: 1, empty: 1, cut: 1, flipped: 1, brokenLink: 1, loop: 0.5, devLink: 0.5, dirLink: 0.5, longName: 0.7, subfolder: 0.3, text: 0.3, odd: 0.7 });
    const name = (ext: string) => `f${i}${ext}`;
    const p = (file: string) => path.join(folder, file);
    switch (kind) {
      case 'digit': {
        const file = p(name(rng.pick(['.png', '.PNG'])));
        fs.copyFileSync(rng.pick(corpus.digits), file);
        good.push(file);
        listed++;
        break;
      }
      case 'format': {
        const f = rng.pick(FORMATS);
        const file = p(name(`.${f === 'jpeg' ? 'jpg' : f}`));
        fs.copyFileSync(corpus.images[f], file);
        good.push(file);
        listed++;
        break;
      }
      case 'npy': {
        const file = p(name('.npy'));
        fs.copyFileSync(corpus.digitNpy, file);
        good.push(file);
        listed++;
        break;
      }
      case 'empty':
        fs.writeFileSync(p(name('.png')), '');
        bad++;
        listed++;
        break;
      case 'cut':
        fs.writeFileSync(p(name('.png')), fs.readFileSync(corpus.digits[0]).subarray(0, 10));
        bad++;
        listed++;
        break;
      case 'flipped': {
        const f = rng.pick(FORMATS);
        fs.writeFileSync(p(name(`.${f === 'jpeg' ? 'jpg' : f}`)), mutate(rng, fs.readFileSync(corpus.images[f]), 64).bytes);
        listed++;
        break;
      }
      case 'brokenLink':
        fs.symlinkSync(p('gone.png'), p(name('.png')));
        bad++;
        listed++;
        break;
      case 'loop':
        fs.symlinkSync(p(name('b.png')), p(name('a.png')));
        fs.symlinkSync(p(name('a.png')), p(name('b.png')));
        bad += 2;
        listed += 2;
        break;
      case 'devLink':
        fs.symlinkSync(rng.pick(['/dev/zero', '/dev/null', '/dev/urandom']), p(name('.png')));
        break;
      case 'dirLink':
        fs.symlinkSync(ctx.dir, p(name('.jpg')));
        break;
      case 'longName': {
        const file = p(`${'l'.repeat(rng.int(200, 250))}${i}.png`);
        fs.copyFileSync(corpus.digits[1], file);
        listed++;
        break;
      }
      case 'subfolder':
        fs.mkdirSync(p(name('.png')));
        break;
      case 'text':
        fs.writeFileSync(p(name('.txt')), 'not an image');
        break;
      default: {
        const file = p(rng.pick([`sp ace ${i}.png`, `ünï ${i}.png`, `${i}.tar.png`, `-${i}.png`, `${i}'q".png`, `x${i}.jpeg`]));
        fs.copyFileSync(corpus.digits[2], file);
        good.push(file);
        listed++;
      }
    }
  }
  const methods = [rng.pick(['gradcam', 'saliency', 'guided-backprop', 'occlusion'])];
  if (rng.chance(0.3)) methods.push(rng.pick(['cam', 'deconvnet', 'guided-gradcam']));
  const out = path.join(ctx.dir, 'report');
  const args = ['explain', corpus.models.mnist.path, folder, '--method', methods.join(','), '--out', out];
  if (rng.chance(0.3)) args.push('--json');
  if (rng.chance(0.2)) args.push('--batch-size', rng.pick(['1', '3', '16']));
  const expect: Expect = listed === 0 || bad > 0 ? 'invalid' : good.length === listed ? 'valid' : 'unknown';
  notes.push(`${listed} listed (${good.length} good, ${bad} bad), methods ${methods.join(',')}`);
  return { category: 'batch', label: notes.join('; '), args, expect, batch: { summary: path.join(out, 'summary.json'), good } };
}

/** The generator of each category, with its relative weight in a run (cheaper categories run more often). */
export const GENERATORS: Readonly<Record<Category, { readonly weight: number; readonly make: (ctx: CaseContext) => FuzzCase }>> = {
  models: { weight: 3, make: models },
  images: { weight: 5, make: images },
  npy: { weight: 3, make: npyCase },
  flags: { weight: 5, make: flags },
  sidecars: { weight: 3, make: sidecars },
  batch: { weight: 2, make: batch },
};

/** Reads flags, methods, presets and colormaps from the CLI's usage text. */
export function cliInfo(help: string): CliInfo {
  const flags = [...new Set([...help.matchAll(/--([a-z][a-z-]+)/g)].map((m) => m[1]))].filter((f) => f !== 'method');
  const methods = /Methods: ([^\n]+)/.exec(help)?.[1].split(',').map((s) => s.trim()) ?? [];
  const presets = /--preset P \(([^)]+)\)/.exec(help)?.[1].split(',').map((s) => s.trim()) ?? [];
  const colormaps = /--colormap ([a-z|]+)\]/.exec(help)?.[1].split('|') ?? [];
  return { flags: [...flags, 'method'], booleanFlags: ['json', 'gain', 'debug', 'help'].filter((f) => flags.includes(f)), methods, presets, colormaps };
}
