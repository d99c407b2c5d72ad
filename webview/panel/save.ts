/** What "Save PNG" and "Save .npy" write: the channel shown, or the explanation shown, with a file name that says which. */
import { encodeNpy } from '../../src/core/npy';
import type { SaveRequest } from '../../src/protocol/protocol';
import { encodePng } from '../image';
import { channelPicture, explanationPicture, safeName, stem } from './pictures';
import { shownClass } from './selectors';
import type { Scene } from './views/scene';

/** The save request for what the scene shows. */
export async function saveRequest(scene: Scene, what: 'PNG' | '.npy'): Promise<SaveRequest> {
  const { state: s, acts: a } = scene;
  const v = s.view;
  const base = scene.base!;
  const { colormap, opacity } = s.choices;
  const name = stem(s.image?.name);
  if (v.kind === 'channel' && a?.layer === v.layer) {
    const hw = a.height * a.width;
    const fileName = `${name}_${safeName(a.layer)}_ch${v.channel}`;
    return what === 'PNG'
      ? { type: 'save', what, fileName: `${fileName}.png`, bytes: await encodePng(channelPicture(a, v.channel, scene.current ?? base, colormap, opacity)) }
      : { type: 'save', what, fileName: `${fileName}.npy`, bytes: encodeNpy(a.data.slice(v.channel * hw, (v.channel + 1) * hw), [a.height, a.width]) };
  }
  const e = scene.explanation(shownClass(s))!;
  const fileName = `${name}_${e.method}_c${e.classIndex}`;
  return what === 'PNG'
    ? { type: 'save', what, fileName: `${fileName}.png`, bytes: await encodePng(explanationPicture(e, base, colormap, opacity, s.model?.preprocessing.channels ?? 'rgb')) }
    : { type: 'save', what, fileName: `${fileName}.npy`, bytes: encodeNpy(e.raw.data, e.raw.dims) };
}
