// Imported first by src/cli.ts, before any module reads the environment: a CLI command
// talks to its operator on stdout, so the service's info-level JSON logs (one line per
// request of the instance `seed --demo` starts) would bury what it says. Set LOG_LEVEL in
// the environment to see them.
process.env.LOG_LEVEL ??= 'warn';
