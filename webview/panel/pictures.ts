/** The pictures the panel draws and saves, as RGBA images (no DOM): overlays, gradients, channel maps, thumbnails. */
import type { LayerActivations } from '../../src/core/app/layer-activations';
import type { Explanation } from '../../src/core/methods/method';
import type { RgbaImage } from '../../src/core/preprocess/image';
import { resizeBilinear, resizeRgbaPil } from '../../src/core/preprocess/resize';
import { getColormap } from '../../src/core/render/colormap';
import { gradientToImage, normalizeMinMax, overlayHeatmap } from '../../src/core/render/overlay';
import { colorize } from '../image';

/** The heat colours of a 0..1 map at the base picture's size. */
export function heatImage(map01: Float32Array, w: number, h: number, base: RgbaImage, colormap: string): RgbaImage {
  const up = resizeBilinear(map01, w, h, base.width, base.height, 1);
  return colorize(up, base.width, base.height, getColormap(colormap).lut);
}

/** The picture scaled down to at most `side` pixels on its longer side. */
export function thumbnail(img: RgbaImage, side: number): RgbaImage {
  const s = Math.min(1, side / Math.max(img.width, img.height));
  return s < 1 ? resizeRgbaPil(img, Math.max(2, Math.round(img.width * s)), Math.max(2, Math.round(img.height * s))) : img;
}

/** An input-space gradient as an image, in the model's channel order. */
export function gradientImage(e: Explanation & { display: { kind: 'gradient' } }, channels: string): RgbaImage {
  const [c, gh, gw] = e.display.grad.dims;
  return gradientToImage(e.display.grad.data, c, gh, gw, channels === 'bgr' ? 'bgr' : 'rgb');
}

/** An explanation as saved and as thumbnails show it: the heat map over the picture, or the gradient image. */
export function explanationPicture(e: Explanation, base: RgbaImage, colormap: string, opacity: number, channels: string): RgbaImage {
  return e.display.kind === 'heatmap'
    ? overlayHeatmap(base, e.display.map, e.display.width, e.display.height, { colormap, alpha: opacity })
    : gradientImage(e as Explanation & { display: { kind: 'gradient' } }, channels);
}

/** One channel of a layer's activation, min-max normalised. */
export function channelMap(a: LayerActivations, channel: number): Float32Array {
  const hw = a.height * a.width;
  return normalizeMinMax(a.data.subarray(channel * hw, (channel + 1) * hw));
}

/** One channel over the picture, as saved. */
export function channelPicture(a: LayerActivations, channel: number, base: RgbaImage, colormap: string, opacity: number): RgbaImage {
  return overlayHeatmap(base, channelMap(a, channel), a.width, a.height, { colormap, alpha: opacity });
}

/** A file name's stem ("cat" for "cat.jpg"). */
export function stem(name: string | undefined): string {
  return (name ?? 'image').replace(/\.[^.]+$/, '');
}

/** A layer name made safe for a file name. */
export function safeName(layer: string): string {
  return layer.replace(/[^\w.-]+/g, '_');
}
