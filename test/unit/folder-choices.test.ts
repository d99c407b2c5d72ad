/**
 * The Explain Folder quick picks (src/extension/folder-choices.ts), driven through a scripted stand-in for
 * vscode.window: methods, top-k and GAIN, then the target as the panel's "Explain" control offers it, class B of
 * "A and not B" from an input box, the last choices preselected, and a target a chosen method cannot explain refused.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { FOLDER_TARGETS, FolderChoices, FolderPickUi, askFolderChoices } from '../../src/extension/folder-choices';
import { parseScoreTarget } from '../../src/core/methods/score-target';
import { ROOT } from '../support/paths';

type Item = vscode.QuickPickItem & { method?: string; flag?: string; target?: string };

/** A stand-in UI that answers each question with the given function and records what it was shown. */
function scripted(answers: {
  many?: (items: readonly Item[]) => readonly Item[] | undefined;
  one?: (items: readonly Item[]) => Item | undefined;
  input?: (o: vscode.InputBoxOptions) => string | undefined;
}) {
  const seen: { many?: readonly Item[]; one?: readonly Item[]; input?: vscode.InputBoxOptions; warnings: string[] } = { warnings: [] };
  const ui: FolderPickUi = {
    separator: -1 as vscode.QuickPickItemKind,
    pickMany: async (items) => ((seen.many = items as readonly Item[]), answers.many?.(items as readonly Item[]) as never),
    pickOne: async (items) => ((seen.one = items as readonly Item[]), answers.one?.(items as readonly Item[]) as never),
    input: async (o) => ((seen.input = o), answers.input?.(o)),
    warn: (m) => void seen.warnings.push(m),
  };
  return { ui, seen };
}

const methodsOf = (ids: string[]) => (items: readonly Item[]) => items.filter((i) => (i.method && ids.includes(i.method)) || i.flag === 'gain');
const targetOf = (label: string) => (items: readonly Item[]) => items.find((i) => i.label === label);

describe('Explain Folder quick picks', () => {
  it('offer the panel\'s targets after the methods, and return the one picked', async () => {
    const { ui, seen } = scripted({ many: methodsOf(['gradcam', 'saliency']), one: targetOf('Softmax probability') });
    const r = await askFolderChoices(ui);
    assert.deepEqual(r, { methods: ['gradcam', 'saliency'], top: 1, gain: true, target: 'softmax' });
    assert.deepEqual(seen.one!.map((i) => i.label), ['Logit', 'Softmax probability', 'Sigmoid (multi-label)', 'A and not B']);
    assert.deepEqual(seen.one!.map((i) => i.target), ['logit', 'softmax', 'sigmoid', 'contrast']);
    assert.equal(seen.input, undefined, 'no class B asked for');
    // The same words as the panel's "Explain" control.
    const toolbar = fs.readFileSync(path.join(ROOT, 'webview', 'panel', 'views', 'toolbar.ts'), 'utf8');
    for (const t of FOLDER_TARGETS) assert.ok(toolbar.includes(`{ value: '${t.kind}', text: '${t.label}'`), `the panel offers ${t.kind} as '${t.label}'`);
  });

  it('"A and not B" asks for class B and passes contrast:B, which the CLI\'s parser accepts', async () => {
    const { ui, seen } = scripted({ many: methodsOf(['saliency', 'integrated-gradients']), one: targetOf('A and not B'), input: () => ' 281 ' });
    const r = await askFolderChoices(ui);
    assert.equal(r?.target, 'contrast:281');
    assert.equal(parseScoreTarget(r!.target), 'contrast:281');
    const validate = seen.input!.validateInput!;
    assert.equal(validate('281'), undefined);
    for (const bad of ['', 'cat', '-1', '2.5']) assert.match(String(validate(bad)), /whole number/, `'${bad}' is refused`);
  });

  it('preselect the last choices, the last target and its class B included', async () => {
    const last: FolderChoices = { methods: ['saliency'], top: 3, gain: false, target: 'contrast:7' };
    const { ui, seen } = scripted({ many: (items) => items.filter((i) => i.picked), one: targetOf('A and not B'), input: (o) => o.value });
    const r = await askFolderChoices(ui, last);
    assert.deepEqual(r, last);
    assert.deepEqual(seen.many!.filter((i) => i.picked).map((i) => i.method ?? i.flag), ['top3', 'saliency']);
    assert.deepEqual(seen.one!.filter((i) => /last used/.test(i.description ?? '')).map((i) => i.target), ['contrast']);
    // Choices saved before the target existed read as the logit.
    const old = scripted({ many: (items) => items.filter((i) => i.picked), one: (items) => items.find((i) => /last used/.test(i.description ?? '')) });
    assert.equal((await askFolderChoices(old.ui, { methods: ['gradcam'], top: 1, gain: true }))?.target, 'logit');
  });

  it('say which chosen methods cannot explain a target, and refuse it with a warning', async () => {
    const { ui, seen } = scripted({ many: methodsOf(['gradcam', 'guided-backprop']), one: targetOf('A and not B'), input: () => '5' });
    assert.equal(await askFolderChoices(ui), undefined);
    assert.equal(seen.one!.find((i) => i.target === 'contrast')!.detail, 'Not for Guided backprop');
    assert.equal(seen.one!.find((i) => i.target === 'softmax')!.detail, undefined);
    assert.equal(seen.input, undefined, 'class B is not asked for a target that cannot run');
    assert.match(seen.warnings.join('\n'), /Guided backprop cannot explain "A and not B"/);
  });

  it('stop when a question is dismissed or no method is chosen', async () => {
    assert.equal(await askFolderChoices(scripted({ many: () => undefined }).ui), undefined);
    assert.equal(await askFolderChoices(scripted({ many: methodsOf(['gradcam']), one: () => undefined }).ui), undefined);
    assert.equal(await askFolderChoices(scripted({ many: methodsOf(['gradcam']), one: targetOf('A and not B'), input: () => undefined }).ui), undefined);
    const none = scripted({ many: () => [] });
    assert.equal(await askFolderChoices(none.ui), undefined);
    assert.match(none.seen.warnings[0], /choose at least one method/);
  });
});
