// Mocha reporter: mocha's spec output, then one plain closing line "N passed, N failed, N skipped"
// that CI reads to count what ran.
'use strict';
// mocha 12 exports classes by name from its lib files; take them from the package's index.
const { Spec } = require('mocha').reporters;
const { EVENT_RUN_END } = require('mocha').Runner.constants;

class SummaryReporter extends Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats || {};
      process.stdout.write(`\ntests: ${s.passes || 0} passed, ${s.failures || 0} failed, ${s.pending || 0} skipped\n`);
    });
  }
}
module.exports = SummaryReporter;
