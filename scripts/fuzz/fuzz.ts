/**
 * Fuzzes the look-closer CLI (dist/cli.js) one process at a time over mutated models, images of every format,
 * .npy headers, flag values, sidecars and batch folders, and checks the contract of scripts/fuzz/contract.ts.
 *
 *   npm run fuzz -- [--cases N] [--seed S] [--categories a,b] [--budget-s T] [--fresh] [--keep] [--cli FILE] [--name NAME]
 *
 * Case i of seed S is always the same case, so a run is resumable: results go to
 * fuzz-results/NAME/results.jsonl (NAME: seed-S) and a rerun continues with the cases not yet recorded.
 * Prints a table per category and writes fuzz-results/NAME/summary.json; exits 1 when any case breaks the
 * contract. --cli runs another build of the CLI (an older one, to compare).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { CATEGORIES, Category, FuzzCase, GENERATORS, cliInfo } from './cases';
import { LIMITS, VIOLATIONS, Verdict, Violation, judge } from './contract';
import { ROOT, buildCorpus } from './corpus';
import { Rng, caseSeed } from './rng';
import { runCli } from './run';

/** One line of results.jsonl. */
interface CaseRecord {
  readonly id: number;
  readonly category: Category;
  readonly label: string;
  readonly args: readonly string[];
  readonly expect: FuzzCase['expect'];
  readonly code: number | null;
  readonly signal: string | null;
  readonly ms: number;
  readonly peakMb: number;
  readonly outcome: Verdict['outcome'];
  readonly firstLine: string;
  readonly violations: readonly Violation[];
  readonly notes: readonly string[];
}

const usage = 'npm run fuzz -- [--cases N] [--seed S] [--categories models,images,npy,flags,sidecars,batch] [--budget-s T] [--fresh] [--keep] [--cli FILE] [--name NAME]';

function options() {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string', default: '300' },
      seed: { type: 'string', default: '1' },
      categories: { type: 'string' },
      'budget-s': { type: 'string' },
      fresh: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      cli: { type: 'string' },
      name: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const int = (v: string, name: string) => {
    if (!/^\d+$/.test(v)) throw new Error(`--${name} must be a whole number, got '${v}'. ${usage}`);
    return Number(v);
  };
  const categories = (values.categories?.split(',') ?? [...CATEGORIES]) as Category[];
  for (const c of categories) if (!CATEGORIES.includes(c)) throw new Error(`Unknown category '${c}'; categories: ${CATEGORIES.join(', ')}.`);
  return {
    cases: int(values.cases!, 'cases'), seed: int(values.seed!, 'seed'), categories,
    budgetMs: values['budget-s'] ? int(values['budget-s'], 'budget-s') * 1000 : Infinity, fresh: values.fresh!, keep: values.keep!,
    cli: path.resolve(values.cli ?? path.join(ROOT, 'dist', 'cli.js')), name: values.name ?? `seed-${values.seed}`,
  };
}

/** The category of case `id`: drawn by weight from the case's own seed (--categories only filters, so ids keep their cases). */
function categoryOf(seed: number, id: number): Category {
  const weights = Object.fromEntries(CATEGORIES.map((c) => [c, GENERATORS[c].weight])) as Record<Category, number>;
  return new Rng(caseSeed(seed, id) ^ 0x5bd1e995).weighted(weights);
}

const pad = (s: string | number, n: number) => String(s).padStart(n);

/** The per-category table. */
function table(records: readonly CaseRecord[], categories: readonly Category[]): { text: string; rows: Record<string, Record<string, number>> } {
  const cols = ['cases', 'clean errors', 'exit 0', 'unclear', 'crashes', 'hangs', 'stack', 'silent-wrong', 'valid failed', 'bad words', 'casualty', 'max RSS MB', 'median ms'] as const;
  const rows: Record<string, Record<string, number>> = {};
  const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : 0);
  for (const c of [...categories, 'all'] as const) {
    const rs = records.filter((r) => c === 'all' || r.category === c);
    const has = (v: Violation) => rs.filter((r) => r.violations.includes(v)).length;
    rows[c] = {
      cases: rs.length,
      'clean errors': rs.filter((r) => r.outcome === 'error' && !r.violations.length).length,
      'exit 0': rs.filter((r) => r.outcome === 'exit0').length,
      unclear: has('unclear'), crashes: has('crash'), hangs: has('hang'), stack: has('stack'),
      'silent-wrong': has('exit0-invalid'), 'valid failed': has('valid-failed'), 'bad words': has('bad-words'), casualty: has('batch-casualty'),
      'max RSS MB': Math.round(Math.max(0, ...rs.map((r) => r.peakMb))), 'median ms': Math.round(median(rs.map((r) => r.ms))),
    };
  }
  const w = [9, ...cols.map((c) => Math.max(c.length, 5))];
  const line = (cells: (string | number)[]) => cells.map((x, i) => (i ? pad(x, w[i]) : String(x).padEnd(w[0]))).join('  ');
  const text = [line(['category', ...cols]), ...Object.entries(rows).map(([c, r]) => line([c, ...cols.map((k) => r[k])]))].join('\n');
  return { text, rows };
}

async function main(): Promise<number> {
  const opt = options();
  const cli = opt.cli;
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing; run 'node esbuild.mjs' (or npm run build) first.`);
  if (!/^[\w.-]+$/.test(opt.name)) throw new Error(`--name must be a plain folder name, got '${opt.name}'.`);
  const runDir = path.join(ROOT, 'fuzz-results', opt.name);
  const resultsFile = path.join(runDir, 'results.jsonl');
  if (opt.fresh) fs.rmSync(runDir, { recursive: true, force: true });
  const work = path.join(runDir, 'work');
  fs.mkdirSync(work, { recursive: true });
  const corpus = await buildCorpus(path.join(work, 'corpus'));
  const help = execFileSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
  const info = cliInfo(help);

  const done = new Map<number, CaseRecord>();
  if (fs.existsSync(resultsFile)) {
    for (const l of fs.readFileSync(resultsFile, 'utf8').split('\n')) {
      if (!l.trim()) continue;
      try {
        const r = JSON.parse(l) as CaseRecord;
        done.set(r.id, r);
      } catch {
        // A line cut short by an interrupted run: that case runs again.
      }
    }
  }
  const todo = Array.from({ length: opt.cases }, (_, id) => id).filter((id) => !done.has(id) && opt.categories.includes(categoryOf(opt.seed, id)));
  console.log(`look-closer fuzz: seed ${opt.seed}, ${opt.cases} cases (${done.size} already recorded in ${path.relative(ROOT, resultsFile)}, ${todo.length} to run)`);
  const t0 = performance.now();
  const out = fs.openSync(resultsFile, 'a');
  let ran = 0;
  for (const id of todo) {
    if (performance.now() - t0 > opt.budgetMs) {
      console.log(`time budget reached after ${ran} cases; rerun to continue`);
      break;
    }
    const category = categoryOf(opt.seed, id);
    const dir = path.join(work, `case-${id}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    let c: FuzzCase;
    try {
      c = GENERATORS[category].make({ rng: new Rng(caseSeed(opt.seed, id)), corpus, dir, cli: info });
    } catch (e) {
      throw new Error(`case ${id} (${category}) could not be generated: ${e instanceof Error ? e.stack : e}`);
    }
    const r = await runCli(cli, c.args, dir, LIMITS.timeoutMs, LIMITS.peakKb + 1024 * 1024);
    const v = judge(c, r);
    const rec: CaseRecord = {
      id, category, label: c.label, args: c.args, expect: c.expect, code: r.code, signal: r.signal, ms: Math.round(r.ms),
      peakMb: Math.round(r.peakKb / 102.4) / 10, outcome: v.outcome, firstLine: v.firstLine.slice(0, 300), violations: v.violations, notes: v.notes,
    };
    fs.writeSync(out, `${JSON.stringify(rec)}\n`);
    done.set(id, rec);
    ran++;
    if (v.violations.length) {
      console.log(`  #${id} ${category}: ${v.violations.join(', ')} — ${c.label.slice(0, 100)}\n      ${v.notes.join(' | ').slice(0, 300)}`);
    }
    if (!opt.keep && !v.violations.length) fs.rmSync(dir, { recursive: true, force: true });
    if (ran % 50 === 0) console.log(`  … ${ran}/${todo.length} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  fs.closeSync(out);
  const records = [...done.values()].filter((r) => r.id < opt.cases && opt.categories.includes(r.category)).sort((a, b) => a.id - b.id);
  const { text, rows } = table(records, opt.categories);
  console.log(`\n${text}\n`);
  const broken = records.filter((r) => r.violations.length);
  const summary = {
    seed: opt.seed, cases: records.length, limits: LIMITS, seconds: Math.round((performance.now() - t0) / 1000), table: rows,
    violations: Object.fromEntries(VIOLATIONS.map((k) => [k, broken.filter((r) => r.violations.includes(k)).map((r) => r.id)])),
    broken: broken.map((r) => ({ id: r.id, category: r.category, label: r.label, args: r.args, violations: r.violations, notes: r.notes })),
  };
  fs.writeFileSync(path.join(runDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`${broken.length} of ${records.length} cases broke the contract; details in ${path.relative(ROOT, path.join(runDir, 'summary.json'))}${broken.length ? ` (their folders are kept under ${path.relative(ROOT, work)})` : ''}`);
  return broken.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`fuzz: ${e instanceof Error ? e.message : e}`);
    process.exit(2);
  },
);
