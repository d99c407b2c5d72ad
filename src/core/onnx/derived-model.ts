/**
 * Models derived from a base model by additions only, built and serialised cheaply.
 *
 * Every session Look Closer creates runs the user's model plus additions: extra outputs, appended
 * backward nodes, new initializers and inputs. Deep-copying and re-encoding a 50 MB model costs about
 * 0.3 s each in protobufjs, dominated by the weights. Instead, a derived model shares the base's tensor
 * protos, and only its additions are encoded and appended to the base's bytes: protobuf parsers merge a
 * repeated occurrence of an embedded message field (ModelProto.graph) and concatenate its repeated fields
 * (node, initializer, input, output, value_info), so `base ‖ ModelProto{graph: additions}` parses as the
 * base with the additions appended (protobuf encoding guide, "Last one wins" / merging of embedded messages).
 */
import { encodeModel, onnx, toNum } from './model';

/** A model together with its serialised bytes. */
export interface EncodedModel {
  readonly model: onnx.ModelProto;
  readonly bytes: Uint8Array;
}

/** A copy of a node whose input, output and attribute lists can be edited (attribute protos are shared). */
function cloneNode(n: onnx.INodeProto): onnx.NodeProto {
  return Object.assign(onnx.NodeProto.create(), n, { input: [...(n.input ?? [])], output: [...(n.output ?? [])], attribute: [...(n.attribute ?? [])] });
}

/**
 * A structural copy of a model for editing by additions: nodes are copied, lists are new arrays, and the
 * tensor protos (weights) are shared with the original, which must therefore never be mutated in place.
 */
export function shallowCloneModel(model: onnx.ModelProto): onnx.ModelProto {
  const g = model.graph as onnx.GraphProto;
  const graph = Object.assign(onnx.GraphProto.create(), g, {
    node: g.node.map(cloneNode),
    initializer: [...g.initializer],
    sparseInitializer: [...(g.sparseInitializer ?? [])],
    input: [...g.input],
    output: [...g.output],
    valueInfo: [...g.valueInfo],
    quantizationAnnotation: [...(g.quantizationAnnotation ?? [])],
  });
  return Object.assign(onnx.ModelProto.create(), model, {
    graph,
    opsetImport: model.opsetImport.map((o) => onnx.OperatorSetIdProto.create({ domain: o.domain, version: o.version })),
    metadataProps: [...model.metadataProps],
    functions: [...(model.functions ?? [])],
  });
}

const same = (a: readonly unknown[] | null | undefined, b: readonly unknown[] | null | undefined) =>
  (a?.length ?? 0) === (b?.length ?? 0) && (a ?? []).every((x, i) => x === b![i]);

/** True when node `d` is unchanged from `b` (same op, names and attribute protos). */
function sameNode(b: onnx.INodeProto, d: onnx.INodeProto): boolean {
  return b.opType === d.opType && (b.domain ?? '') === (d.domain ?? '') && (b.name ?? '') === (d.name ?? '') &&
    same(b.input, d.input) && same(b.output, d.output) && same(b.attribute, d.attribute);
}

/** The graph lists a derived model may only append to. */
const APPENDABLE = ['node', 'initializer', 'input', 'output', 'valueInfo'] as const;

/**
 * Serialises `derived`, a {@link shallowCloneModel} of `base.model` edited by additions, as the base's
 * bytes followed by the additions. Falls back to a full encoding when anything else changed (opset,
 * IR version, an existing node, a removed entry). The result never shares memory with `base.bytes`.
 */
export function encodeDerived(base: EncodedModel, derived: onnx.ModelProto): Uint8Array {
  const bg = base.model.graph as onnx.GraphProto;
  const dg = derived.graph as onnx.GraphProto;
  const unchanged =
    toNum(base.model.irVersion) === toNum(derived.irVersion) &&
    base.model.opsetImport.length === derived.opsetImport.length &&
    base.model.opsetImport.every((o, i) => (o.domain ?? '') === (derived.opsetImport[i].domain ?? '') && toNum(o.version) === toNum(derived.opsetImport[i].version)) &&
    same(base.model.functions, derived.functions) &&
    same(base.model.metadataProps, derived.metadataProps) &&
    same(bg.sparseInitializer, dg.sparseInitializer) &&
    APPENDABLE.every((f) => dg[f].length >= bg[f].length) &&
    bg.node.every((n, i) => sameNode(n, dg.node[i])) &&
    (['initializer', 'input', 'output', 'valueInfo'] as const).every((f) => (bg[f] as unknown[]).every((x, i) => x === dg[f][i]));
  if (!unchanged) return encodeModel(derived);
  // Always a new buffer: onnxruntime-web's proxy mode transfers (detaches) the buffer it is given.
  if (APPENDABLE.every((f) => dg[f].length === bg[f].length)) return base.bytes.slice();
  const additions = onnx.GraphProto.create({
    node: dg.node.slice(bg.node.length),
    initializer: dg.initializer.slice(bg.initializer.length),
    input: dg.input.slice(bg.input.length),
    output: dg.output.slice(bg.output.length),
    valueInfo: dg.valueInfo.slice(bg.valueInfo.length),
  });
  const tail = onnx.ModelProto.encode(onnx.ModelProto.create({ graph: additions })).finish();
  const out = new Uint8Array(base.bytes.length + tail.length);
  out.set(base.bytes);
  out.set(tail, base.bytes.length);
  return out;
}
