// Unit specs live beside the code (src/**/*.spec.ts); integration specs under test/integration call
// services and repositories against the real Postgres/Redis; e2e specs under test/e2e boot the real app;
// fault specs under test/fault (TARGETS R1-R6) add real worker processes, proxies and servers.
// A few transitive dependencies ship ESM only; they are compiled to CommonJS for Jest.
const ESM_ONLY = ['content-disposition', 'openid-client', 'oauth4webapi', 'jose'];

module.exports = {
  rootDir: '.',
  moduleFileExtensions: ['ts', 'js', 'json'],
  testRegex: '(src/.+\\.spec\\.ts|test/.+\\.(e2e|integration|fault)-spec\\.ts)$',
  transform: {
    '^.+\\.ts$': 'ts-jest',
    [`/node_modules/(${ESM_ONLY.join('|')})/.+\\.js$`]: [
      'ts-jest',
      { tsconfig: { allowJs: true, module: 'commonjs', isolatedModules: true } },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY.join('|')})/)`],
  testEnvironment: 'node',
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  maxWorkers: 2,
  testTimeout: 60000,
};
