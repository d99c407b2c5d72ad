/**
 * The CLI's file access with hard limits: only regular files are read, each kind of file has a size cap, and
 * output folders are created one level at a time (Node's recursive mkdir never returns on /proc) and checked
 * before any work starts. Every failure names the file and what to do.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LookCloserError } from '../core/errors';

/** Size caps per kind of input file, in bytes. */
export const FILE_LIMITS = {
  /** protobuf cannot hold more than 2 GiB in one message. */
  model: 2 * 1024 ** 3,
  'input tensor': 1024 ** 3,
  image: 512 * 1024 ** 2,
  'labels file': 16 * 1024 ** 2,
  sidecar: 1024 ** 2,
  /** A Hugging Face or timm config.json (id2label of 21k classes is about 1 MB). */
  'model config': 16 * 1024 ** 2,
} as const;

/** A kind of file the CLI reads. */
export type FileKind = keyof typeof FILE_LIMITS;

const mb = (n: number) => `${(n / 1024 ** 2).toFixed(n < 1024 ** 2 ? 1 : 0)} MB`;

/** Why a file system call failed, in words. */
export function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT': return 'no such file or folder';
    case 'EISDIR': return 'it is a folder';
    case 'ENOTDIR': return 'a part of the path is a file, not a folder';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EEXIST': return 'a file of that name is in the way';
    case 'ENAMETOOLONG': return 'the name is too long for the file system';
    case 'ENOSPC': return 'the disk is full';
    case 'EROFS': return 'the file system is read-only';
    case 'ELOOP': return 'too many symbolic links';
    default: return code ?? (e instanceof Error ? e.message : String(e));
  }
}

/** Reads a file the user named: it must be a regular file (not a device, FIFO or folder) no larger than its kind's cap. */
export function readUserFile(p: string, what: FileKind): Buffer {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    throw new LookCloserError('bad-argument', `Cannot read ${what} '${p}': ${reason(e)}.`);
  }
  if (st.isDirectory()) throw new LookCloserError('bad-argument', `Cannot read ${what} '${p}': it is a folder.`);
  if (!st.isFile()) throw new LookCloserError('bad-argument', `Cannot read ${what} '${p}': it is not a regular file (a device, socket or pipe); give a file.`);
  const cap = FILE_LIMITS[what];
  if (st.size > cap) throw new LookCloserError('bad-argument', `Cannot read ${what} '${p}': it is ${mb(st.size)}, more than the ${mb(cap)} a ${what} may have.`);
  try {
    const b = fs.readFileSync(p);
    if (b.length > cap) throw new LookCloserError('bad-argument', `Cannot read ${what} '${p}': it grew past ${mb(cap)} while being read.`);
    return b;
  } catch (e) {
    if (e instanceof LookCloserError) throw e;
    throw new LookCloserError('bad-argument', `Cannot read ${what} '${p}': ${reason(e)}.`);
  }
}

/** Pseudo file systems no output belongs in. */
const SPECIAL = ['/proc', '/sys', '/dev'];

/** Creates an output folder (and its parents) one level at a time, or throws naming the part that failed. */
export function makeOutputDir(dir: string): string {
  const abs = path.resolve(dir);
  if (SPECIAL.some((s) => abs === s || abs.startsWith(`${s}/`))) {
    throw new LookCloserError('bad-argument', `Cannot write outputs to '${dir}': ${abs.split('/').slice(0, 2).join('/')} is a system file system; choose a folder in your project (--out DIR).`);
  }
  const parts = abs.split(path.sep).filter(Boolean);
  let cur = path.parse(abs).root;
  for (const part of parts) {
    cur = path.join(cur, part);
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(cur);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new LookCloserError('bad-argument', `Cannot write outputs to '${dir}': '${cur}': ${reason(e)}.`);
    }
    if (st && !st.isDirectory()) throw new LookCloserError('bad-argument', `Cannot write outputs to '${dir}': '${cur}' is a file, not a folder.`);
    if (st) continue;
    try {
      fs.mkdirSync(cur);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && fs.statSync(cur).isDirectory()) continue;
      throw new LookCloserError('bad-argument', `Cannot create the output folder '${cur}': ${reason(e)}.`);
    }
  }
  try {
    fs.accessSync(abs, fs.constants.W_OK);
  } catch (e) {
    throw new LookCloserError('bad-argument', `Cannot write outputs to '${dir}': ${reason(e)}.`);
  }
  return abs;
}

/** Writes an output file, or throws naming it and why. */
export async function writeOutput(p: string, data: Uint8Array | string): Promise<void> {
  try {
    await fs.promises.writeFile(p, data);
  } catch (e) {
    throw new LookCloserError('runtime', `Cannot write '${p}': ${reason(e)}.`);
  }
}
