/**
 * Tests run from the compiled output (npm run build), the same JavaScript the
 * workers run. Only @noble's ES modules are transformed: Node requires them
 * natively, Jest's module loader (before Node 24.9) cannot.
 */
const common = {
  testEnvironment: '<rootDir>/jest.environment.js',
  rootDir: __dirname,
  transform: { '/node_modules/@noble/.+\\.js$': ['babel-jest', { plugins: ['@babel/plugin-transform-modules-commonjs'] }] },
  transformIgnorePatterns: ['/node_modules/(?!@noble/)'],
};
module.exports = {
  testTimeout: 180_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/dist/test/unit/**/*.test.js'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/dist/test/integration/**/*.test.js'],
      globalSetup: '<rootDir>/dist/test/integration/global-setup.js',
      globalTeardown: '<rootDir>/dist/test/integration/global-teardown.js',
    },
  ],
};
