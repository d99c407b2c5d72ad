/** Writes the batch report (src/core/batch-report.ts) with node:fs, for the CLI. */
import * as path from 'node:path';
import { BatchSummary, renderReportHtml } from '../core/batch-report';
import { makeOutputDir, writeOutput } from './files';

export { escapeHtml, renderReportHtml } from '../core/batch-report';
export type { BatchImage, BatchOutput, BatchSummary, ScoreDrop } from '../core/batch-report';

/** Writes `summary.json` and the gallery into the report folder. */
export async function writeBatchReport(s: BatchSummary, outDir: string): Promise<{ json: string; html: string }> {
  makeOutputDir(outDir);
  const json = path.join(outDir, 'summary.json');
  const html = path.join(outDir, s.report);
  await writeOutput(json, `${JSON.stringify(s, null, 2)}\n`);
  await writeOutput(html, renderReportHtml(s));
  return { json, html };
}
