// Runs a worker thread's TypeScript entry (workerData.entry) the way jest runs the tests: each .ts file
// is compiled with swc on require. Production runs the compiled entry instead.
const fs = require('node:fs');
const { workerData } = require('node:worker_threads');
const { transformSync } = require('@swc/core');
const swcOptions = require('../swc.config');

require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), { ...swcOptions, filename, sourceMaps: 'inline' });
  module._compile(code, filename);
};
require(workerData.entry);
