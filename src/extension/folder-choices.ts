/**
 * The questions "Look Closer: Explain Folder" asks before it runs: the methods, top-k and GAIN (one multi-select
 * quick pick), then what to explain, as the panel's "Explain" control offers it (logit, softmax probability, sigmoid,
 * "A and not B" with class B asked for). The flow talks to VS Code through a small injected interface, so the unit
 * tests drive it without an editor; extension.ts passes `vscode.window`'s functions.
 */
import type * as vscode from 'vscode';
import { METHODS } from '../core/methods/registry';
import { DEFAULT_TARGETS, contrastClass, targetKind } from '../core/methods/score-target';
import type { ScoreTarget, TargetKind } from '../core/methods/method';

/** The VS Code functions the questions use (vscode.window's, in the extension). */
export interface FolderPickUi {
  /** `vscode.QuickPickItemKind.Separator`. */
  readonly separator: vscode.QuickPickItemKind;
  pickMany<T extends vscode.QuickPickItem>(items: readonly T[], options: vscode.QuickPickOptions): Thenable<readonly T[] | undefined>;
  pickOne<T extends vscode.QuickPickItem>(items: readonly T[], options: vscode.QuickPickOptions): Thenable<T | undefined>;
  input(options: vscode.InputBoxOptions): Thenable<string | undefined>;
  warn(message: string): void;
}

/** What Explain Folder runs, as the quick picks answer it (and as it is remembered for the next time). */
export interface FolderChoices {
  readonly methods: readonly string[];
  readonly top: number;
  readonly gain: boolean;
  /** logit, softmax, sigmoid or contrast:B, as the CLI's --target. */
  readonly target: string;
}

/** The choices before anything was picked: Grad-CAM of the top class, GAIN on, the logit. */
export const DEFAULT_FOLDER_CHOICES: FolderChoices = { methods: ['gradcam'], top: 1, gain: true, target: 'logit' };

/** The target kinds in the order and words of the panel's "Explain" control (webview/panel/views/toolbar.ts). */
export const FOLDER_TARGETS: readonly { readonly kind: TargetKind; readonly label: string; readonly description: string }[] = [
  { kind: 'logit', label: 'Logit', description: 'the class logit z_c (before the softmax)' },
  { kind: 'softmax', label: 'Softmax probability', description: 'the softmax probability of the class' },
  { kind: 'sigmoid', label: 'Sigmoid (multi-label)', description: 'σ(z_c), for multi-label models' },
  { kind: 'contrast', label: 'A and not B', description: 'z_A − z_B: why each image\'s class and not class B' },
];

/** The titles of the methods among `ids` that cannot explain targets of `kind`. */
function refusing(ids: readonly string[], kind: TargetKind): string[] {
  return METHODS.filter((m) => ids.includes(m.id) && !(m.targets ?? DEFAULT_TARGETS).includes(kind)).map((m) => m.title);
}

/**
 * Asks what Explain Folder runs, with `last` preselected; undefined when a question is dismissed or the answer
 * cannot run (no method; a target that a chosen method cannot explain, which is said in a warning).
 */
export async function askFolderChoices(ui: FolderPickUi, last: Partial<FolderChoices> = {}): Promise<FolderChoices | undefined> {
  const was = { ...DEFAULT_FOLDER_CHOICES, ...last };
  type Item = vscode.QuickPickItem & { method?: string; flag?: 'gain' | 'top3' };
  // The options first: with every registered method listed, they would otherwise sit below the fold.
  const items: Item[] = [
    { label: 'Options', kind: ui.separator },
    { label: "GAIN's score drop", description: 'classify again with the attended region erased', flag: 'gain', picked: was.gain },
    { label: 'Top 3 classes', description: 'explain each image\'s top 3 predictions, not only its top 1', flag: 'top3', picked: was.top >= 3 },
    { label: 'Methods', kind: ui.separator },
    ...METHODS.map((m) => ({ label: m.title, description: m.id, detail: m.citation, method: m.id, picked: was.methods.includes(m.id) })),
  ];
  const chosen = await ui.pickMany(items, { canPickMany: true, title: 'Look Closer: explain every image of the folder with…', placeHolder: 'Methods and options (the report opens when done)' });
  if (!chosen) return undefined;
  const methods = chosen.filter((c) => c.method).map((c) => c.method!);
  if (!methods.length) {
    ui.warn('Look Closer: choose at least one method to explain the folder with.');
    return undefined;
  }
  const lastKind = targetKind(was.target as ScoreTarget);
  const targets = FOLDER_TARGETS.map((t) => {
    const no = refusing(methods, t.kind);
    return {
      label: t.label, target: t.kind,
      description: `${t.description}${t.kind === lastKind ? ' · last used' : ''}`,
      ...(no.length ? { detail: `Not for ${no.join(', ')}` } : {}),
    };
  });
  const target = await ui.pickOne(targets, { title: 'Look Closer: what should the methods explain?', placeHolder: 'The score each map explains (as the panel\'s "Explain" control)' });
  if (!target) return undefined;
  const no = refusing(methods, target.target);
  if (no.length) {
    ui.warn(`Look Closer: ${no.join(', ')} cannot explain "${target.label}"; choose another target, or leave ${no.length === 1 ? 'that method' : 'those methods'} out.`);
    return undefined;
  }
  let value: string = target.target;
  if (target.target === 'contrast') {
    const b = await ui.input({
      title: 'Look Closer: "A and not B": class B',
      prompt: 'The class index B (0-based) each image\'s explained class is contrasted with: z_A − z_B',
      value: contrastClass(was.target as ScoreTarget)?.toString() ?? '',
      validateInput: (v) => (/^\s*\d+\s*$/.test(v) ? undefined : 'A class index: a whole number ≥ 0, e.g. 281'),
    });
    if (b === undefined) return undefined;
    if (!/^\s*\d+\s*$/.test(b)) {
      ui.warn(`Look Closer: class B must be a whole number ≥ 0, not '${b}'.`);
      return undefined;
    }
    value = `contrast:${Number(b)}`;
  }
  return { methods, top: chosen.some((c) => c.flag === 'top3') ? 3 : 1, gain: chosen.some((c) => c.flag === 'gain'), target: value };
}
