/** Float32 copies of float16 model files, through the core's converter. */
import { decodeModel, encodeModel } from '../../src/core/onnx/model';
import { float32Copy as convert } from '../../src/core/onnx/float32';

/** Returns the bytes of the float32 copy of a model file's bytes. */
export function float32Copy(bytes: Uint8Array): Uint8Array {
  return encodeModel(convert(decodeModel(bytes, 'float16 model')));
}
