/** The @vscode/test-electron suite contract: VS Code loads this file in the extension host and awaits run(). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';
import { SUITE_PREFIX, log } from './console-marker';

/** Runs every *.test.js beside this file with mocha; rejects when a test fails. */
export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: Number(process.env.LOOK_CLOSER_TEST_TIMEOUT ?? 180_000), color: false, reporter: 'spec' });
  if (process.env.LOOK_CLOSER_TEST_GREP) mocha.grep(process.env.LOOK_CLOSER_TEST_GREP);
  for (const f of fs.readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort()) mocha.addFile(path.join(__dirname, f));
  // The reporter's printf-style lines, formatted here and marked.
  (Mocha.reporters.Base as unknown as { consoleLog: (...a: unknown[]) => void }).consoleLog = (fmt = '', ...args: unknown[]) => {
    let i = 0;
    const text = String(fmt).replace(/%[sdj]/g, () => String(args[i++]));
    console.log(SUITE_PREFIX + [text, ...args.slice(i).map(String)].join(' '));
  };
  return new Promise<void>((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const s = runner.stats;
      // A plain closing line CI can read.
      log(`extension-host: ${s?.passes ?? 0} passed, ${failures} failed`);
      if (failures) reject(new Error(`${failures} extension-host test(s) failed`));
      else resolve();
    });
  });
}
