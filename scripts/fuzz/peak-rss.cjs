// Preloaded into a child Node process (node --require peak-rss.cjs …): on exit, writes the process's peak
// resident set size in kilobytes (getrusage's ru_maxrss, all threads) to the file named by LC_PEAK_RSS_FILE.
'use strict';
const fs = require('node:fs');
const file = process.env.LC_PEAK_RSS_FILE;
if (file) {
  process.on('exit', () => {
    try {
      fs.writeFileSync(file, String(process.resourceUsage().maxRSS));
    } catch {
      // The measurement is best effort; the child's own exit code is what matters.
    }
  });
}
