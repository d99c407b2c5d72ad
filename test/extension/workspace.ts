/**
 * The folder the extension-host tests open (sample photos and a broken image, no model, so the bundled
 * SqueezeNet is used without asking) and, beside it in fixtures/, a small model with its sidecar that a
 * test copies in later.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The CLI's report on the photos folder, which the Explain Folder test compares with the extension's (fixtures/cli-report). */
export const CLI_REPORT = 'cli-report';

/** Fills `dir` with the test workspace and returns it. */
export function makeWorkspace(root: string, dir: string): string {
  fs.rmSync(dir, { recursive: true, force: true });
  const fixtures = path.join(path.dirname(dir), 'fixtures');
  fs.rmSync(fixtures, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync(fixtures, { recursive: true });
  for (const f of ['wm_cat.jpg', 'two_class_both_dog_cat.png']) fs.copyFileSync(path.join(root, 'assets', 'samples', f), path.join(dir, f));
  fs.copyFileSync(path.join(root, 'test', 'fixtures', 'images', 'mnist', 'mnist_3_1020.png'), path.join(dir, 'mnist_3_1020.png'));
  fs.writeFileSync(path.join(dir, 'broken.png'), 'this is not a PNG');
  // A folder for "Explain Folder": three photos, a corrupt JPEG and a file that is not an image.
  const photos = path.join(dir, 'photos');
  fs.mkdirSync(photos);
  for (const f of ['two_class_both_dog_cat.png', 'wm_cat.jpg', 'wm_pelican.jpg']) fs.copyFileSync(path.join(root, 'assets', 'samples', f), path.join(photos, f));
  fs.writeFileSync(path.join(photos, 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46]));
  fs.writeFileSync(path.join(photos, 'notes.txt'), 'not an image');
  fs.copyFileSync(path.join(root, 'test', 'fixtures', 'models', 'mnist-burn-pytorch.onnx'), path.join(fixtures, 'mnist-burn-pytorch.onnx'));
  fs.copyFileSync(path.join(root, 'assets', 'labels', 'mnist_labels.txt'), path.join(fixtures, 'mnist_labels.txt'));
  fs.writeFileSync(path.join(fixtures, 'mnist-burn-pytorch.onnx.json'), JSON.stringify({ preset: 'mnist-normalized', labels: 'mnist_labels.txt' }, null, 2));
  return dir;
}
