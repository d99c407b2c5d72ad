/** Writes the batch report (src/core/batch-report.ts) with node:fs, for the CLI. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BatchSummary, renderReportHtml } from '../core/batch-report';

export { escapeHtml, renderReportHtml } from '../core/batch-report';
export type { BatchImage, BatchOutput, BatchSummary, ScoreDrop } from '../core/batch-report';

/** Writes `summary.json` and the gallery into the report folder. */
export function writeBatchReport(s: BatchSummary, outDir: string): { json: string; html: string } {
  fs.mkdirSync(outDir, { recursive: true });
  const json = path.join(outDir, 'summary.json');
  const html = path.join(outDir, s.report);
  fs.writeFileSync(json, `${JSON.stringify(s, null, 2)}\n`);
  fs.writeFileSync(html, renderReportHtml(s));
  return { json, html };
}
