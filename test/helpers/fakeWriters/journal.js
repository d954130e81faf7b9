// Shared by the fake writer threads: a journal file (workerData.journal) the test reads to see what each
// thread did, one word a line; a thread that exits at once leaves no other trace.
const fs = require('node:fs');
const { workerData } = require('node:worker_threads');

function note(word) {
  if (workerData.journal) fs.appendFileSync(workerData.journal, `${word}\n`);
}

/** Notes a start and returns which start this is, 1 for the first. */
function noteStart() {
  note('start');
  if (!workerData.journal) return 1;
  return fs.readFileSync(workerData.journal, 'utf8').split('\n').filter((w) => w === 'start').length;
}

module.exports = { note, noteStart };
