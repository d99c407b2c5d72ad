/** Paths of the project's bundled and test assets. */
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const SQUEEZENET = path.join(ROOT, 'assets', 'models', 'squeezenet1.0-fp16-winml.onnx');
export const SAMPLES = path.join(ROOT, 'assets', 'samples');
export const MNIST_8 = path.join(ROOT, 'test', 'fixtures', 'models', 'mnist-8-opt-wonnx.onnx');
export const MNIST_BURN = path.join(ROOT, 'test', 'fixtures', 'models', 'mnist-burn-pytorch.onnx');
export const MNIST_DIGITS = path.join(ROOT, 'test', 'fixtures', 'images', 'mnist');
export const TWO_CLASS = path.join(SAMPLES, 'two_class_both_dog_cat.png');
