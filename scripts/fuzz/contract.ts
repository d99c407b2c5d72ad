/**
 * The contract every CLI run must keep, whatever its input: no crash, no hang, bounded memory, no stack trace
 * without --debug, no success on input known to be invalid (and no failure on input known to be valid), no
 * NaN / Infinity / undefined / [object Object] in what it prints, and error messages that name something.
 */
import * as fs from 'node:fs';
import type { FuzzCase } from './cases';
import type { RunResult } from './run';

/** Ways a run can break the contract. */
export const VIOLATIONS = ['crash', 'hang', 'memory', 'stack', 'exit0-invalid', 'valid-failed', 'bad-words', 'unclear', 'batch-casualty'] as const;
/** One way. */
export type Violation = (typeof VIOLATIONS)[number];

/** The limits of a run. */
export const LIMITS = { timeoutMs: 30_000, peakKb: 2 * 1024 * 1024 } as const;

/** How a run ended and what it broke. */
export interface Verdict {
  readonly outcome: 'exit0' | 'error' | 'crash' | 'hang';
  readonly violations: readonly Violation[];
  /** The first line of stderr. */
  readonly firstLine: string;
  /** Why each violation was recorded, in a few words. */
  readonly notes: readonly string[];
}

/** JavaScript engine and system error texts: never acceptable in a message, not even quoted in parentheses. */
const INTERNAL = [
  /Invalid typed array length/, /Invalid array length/, /Array buffer allocation failed/, /\bE(NOENT|EXIST|PERM|ACCES|ISDIR|NOTDIR|MFILE|LOOP|NAMETOOLONG|INVAL)\b/,
  /Maximum call stack/, /Cannot read propert/, /Cannot set propert/, /is not a function/, /is not iterable/, /is not defined/, /\bat Object\./, /out of memory/i,
];

/** Library texts that may follow Look Closer's own sentence, but must not be the whole message. */
const RAW_START = [/^(TypeError|RangeError|SyntaxError|Error)\b/, /^Unexpected (token|end)/, /^index out of range/, /^invalid wire type/, /^illegal (tag|buffer)/, /^onnxruntime\b/];

/** A message names something: a quoted name, a flag, a path, a number, or an argument in capitals (MODEL). */
const NAMES = /['"‘’“”`]|--[a-z]|\/|\d|\b[A-Z]{3,}\b/;

/** Output that shows a broken number or object. */
const BAD_WORDS = /\bNaN\b|\bInfinity\b|\bundefined\b|\[object Object\]/;

/** Removes the strings the case itself passed (a value like 'NaN' may be quoted back) before looking for bad words. */
function withoutArgs(text: string, args: readonly string[]): string {
  let t = text;
  for (const a of [...args].sort((x, y) => y.length - x.length)) if (a.length >= 2) t = t.split(a).join('');
  return t;
}

/** Judges one run of one case. */
export function judge(c: FuzzCase, r: RunResult): Verdict {
  const v = new Set<Violation>();
  const notes: string[] = [];
  const firstLine = r.stderr.split('\n').find((l) => l.trim()) ?? '';
  const outcome = r.timedOut ? 'hang' : r.signal || r.code === null || ![0, 1, 2].includes(r.code) ? 'crash' : r.code === 0 ? 'exit0' : 'error';
  if (outcome === 'hang') v.add('hang');
  if (outcome === 'crash' && !r.killedForMemory) {
    v.add('crash');
    notes.push(`exit ${r.code ?? r.signal}`);
  }
  if (r.killedForMemory || r.peakKb > LIMITS.peakKb) {
    v.add('memory');
    notes.push(`peak ${(r.peakKb / 1024).toFixed(0)} MB`);
  }
  if (!c.args.includes('--debug') && /\n\s+at /.test(r.stderr)) v.add('stack');
  if (outcome === 'exit0' && c.expect === 'invalid') v.add('exit0-invalid');
  if (outcome === 'error' && c.expect === 'valid') {
    v.add('valid-failed');
    notes.push(firstLine.slice(0, 160));
  }
  // Results (stdout) may hold none of them. Error messages may talk about NaN and Infinity ("holds a
  // non-finite value (NaN)", "scored class 0 as NaN") and quote what they read ("NaN" is not valid JSON),
  // but never show undefined or [object Object].
  const messages = r.stderr.replace(/'[^'\n]*'|"[^"\n]*"/g, '').replace(/\bNaN\b|-?\bInfinity\b/g, '');
  const printed = withoutArgs(`${r.stdout}\n${messages}`, c.args);
  const word = BAD_WORDS.exec(printed);
  if (word) {
    v.add('bad-words');
    const at = printed.indexOf(word[0]);
    notes.push(`'${word[0]}' in …${printed.slice(Math.max(0, at - 60), at + 40).replace(/\s+/g, ' ')}…`);
  }
  if (outcome === 'error') {
    const body = firstLine.replace(/^look-closer: /, '');
    const unclear = !firstLine.startsWith('look-closer: ') || INTERNAL.some((re) => re.test(firstLine)) || RAW_START.some((re) => re.test(body)) || !NAMES.test(body);
    if (unclear) {
      v.add('unclear');
      notes.push(firstLine.slice(0, 160));
    }
  }
  if (c.batch && outcome !== 'hang' && outcome !== 'crash') {
    try {
      const s = JSON.parse(fs.readFileSync(c.batch.summary, 'utf8')) as { images: { input: string; error?: string }[] };
      const byInput = new Map(s.images.map((i) => [i.input, i]));
      for (const g of c.batch.good) {
        const img = byInput.get(g);
        if (!img || img.error) {
          v.add('batch-casualty');
          notes.push(`${g.split('/').pop()}: ${img ? img.error : 'missing from the summary'}`.slice(0, 160));
        }
      }
    } catch (e) {
      // No summary: the run must then have failed before explaining anything, with a clean message.
      if (outcome === 'exit0') {
        v.add('batch-casualty');
        notes.push(`no summary.json: ${(e as Error).message}`.slice(0, 160));
      }
    }
  }
  return { outcome, violations: [...v], firstLine, notes };
}
