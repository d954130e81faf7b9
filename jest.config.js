// Three projects: fast unit tests with fakes; integration tests against real back-ends; browser tests. The
// last two start real processes, brokers and browsers, so one bound for each test here (a bound on a test
// that hangs, never a wait) rather than one per file. Jest reads testTimeout only at the top level.
const transform = { '^.+\\.ts$': ['@swc/jest', require('./test/swc.config')] };

module.exports = {
  testTimeout: 120_000,
  projects: [
    { displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'], transform, testEnvironment: 'node' },
    {
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
    },
    { displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'], transform, testEnvironment: 'node' },
  ],
};
