/**
 * Tests run from the compiled output (npm run build), the same JavaScript the
 * workers run. @noble's ES modules are transformed: Node requires them
 * natively, Jest's module loader (before Node 24.9) cannot; the project's own
 * files get their builtins bound once (jest.builtins-transform.js).
 */
const common = {
  testEnvironment: '<rootDir>/jest.environment.js',
  rootDir: __dirname,
  transform: {
    '/node_modules/@noble/.+\\.js$': ['babel-jest', { plugins: ['@babel/plugin-transform-modules-commonjs'] }],
    [`^${__dirname.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/dist/.+\\.js$`]: '<rootDir>/jest.builtins-transform.js',
  },
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
