// How the tests compile TypeScript (decorators with metadata, for TypeORM): used by jest and by tsWorker.js.
module.exports = {
  jsc: {
    target: 'es2022',
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
  },
  module: { type: 'commonjs' },
};
