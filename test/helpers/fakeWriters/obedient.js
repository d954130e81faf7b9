// A writer thread that follows the protocol of src/queue/orderWriterThread.ts without a broker or a
// database. The test steers it through a BroadcastChannel named workerData.control:
//   { post: FromWriter }  posts that message to the main thread
//   { crash: string }     throws it, uncaught, as a writer that dies would
//   { quit: true }        exits: the test's clean-up, which also ends a thread the writer lost track of
// workerData.exitBeforeReadyOnRuns lists the starts (1-based) that exit without a word instead;
// workerData.stopDelayMs is how long a stop takes (the batch in hand finishing).
const { BroadcastChannel, parentPort, workerData } = require('node:worker_threads');
const { note, noteStart } = require('./journal');

const run = noteStart();
if (!(workerData.exitBeforeReadyOnRuns ?? []).includes(run)) {
  const control = workerData.control ? new BroadcastChannel(workerData.control) : null;
  if (control) {
    control.unref(); // only the port keeps the thread alive, as in the real one
    control.onmessage = ({ data }) => {
      if (data.post) parentPort.postMessage(data.post);
      if (data.crash) throw new Error(data.crash);
      if (data.quit) process.exit(0);
    };
  }
  parentPort.on('message', (m) => {
    note(m.type);
    if (m.type === 'pause') parentPort.postMessage({ type: 'paused' });
    else if (m.type === 'resume') parentPort.postMessage({ type: 'ready' });
    else if (m.type === 'stop') {
      setTimeout(() => {
        note('stopped');
        control?.close();
        parentPort.close();
      }, workerData.stopDelayMs ?? 0);
    }
  });
  parentPort.postMessage({ type: 'ready' });
}
