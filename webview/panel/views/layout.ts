/** The panel's page: every view in its place, drawn together. */
import { h } from '../../vscode-api';
import type { PanelState } from '../state';
import { createActions } from './actions';
import { createClassSearch } from './class-search';
import { createCrops } from './crops';
import { createBoxTool } from './box';
import { createCompare } from './compare';
import { createGainLine } from './gain';
import { createMetricsRow } from './metrics';
import { createHeader } from './header';
import { createInspect } from './inspect';
import { createModelSettings } from './model-settings';
import { createPredictions } from './predictions';
import { Dispatch, Scene, View } from './scene';
import { createSanity } from './sanity';
import { createStage } from './stage';
import { createStatus } from './status';
import { createToolbar } from './toolbar';

/** Builds the page in `app` and returns how to draw a scene on it. */
export function createLayout(app: HTMLElement, dispatch: Dispatch, state: () => PanelState): (scene: Scene) => void {
  const header = createHeader();
  const toolbar = createToolbar(dispatch);
  const stage = createStage();
  const gain = createGainLine();
  const metrics = createMetricsRow(dispatch);
  const compare = createCompare(dispatch);
  const sanity = createSanity(dispatch);
  const actions = createActions(dispatch);
  const inspect = createInspect();
  const crops = createCrops();
  const predictions = createPredictions(dispatch);
  const search = createClassSearch(dispatch, state);
  const settings = createModelSettings(dispatch);
  const status = createStatus(dispatch);
  const [stageEl, caption, legend] = stage.parts;
  const box = createBoxTool(stageEl, dispatch);
  const viewer = h('section', { class: 'viewer', 'aria-label': 'Explanation' }, stageEl, caption, gain.el, metrics.el, sanity.el, legend, actions.el, inspect.el, crops.el);
  const classes = h('aside', { class: 'classes', 'aria-label': 'Classes' }, h('h2', { text: 'Top 5' }), predictions.el, ...search.parts);
  app.replaceChildren(status.progress, header.el, toolbar.el, status.error, status.note, h('main', { class: 'content' }, viewer, classes), compare.el, settings.el, status.el);
  const views: View[] = [header, toolbar, stage, box, gain, metrics, compare, sanity, actions, inspect, crops, predictions, search, settings, status];
  return (scene) => {
    for (const v of views) v.render(scene);
    if (scene.state.outcome) document.body.dataset.state = 'ready';
  };
}
