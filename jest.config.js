/** Tests run from the compiled output (npm run build), the same JavaScript the workers run. */
const common = { testEnvironment: '<rootDir>/jest.environment.js', rootDir: __dirname };
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
