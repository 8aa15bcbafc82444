// Runs s3rver in a process of its own: `node --openssl-legacy-provider s3rver-process.mjs <dir> <bucket>`.
// s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only offers
// through its legacy provider; a separate process can switch that on for s3rver alone,
// so paged listings work without weakening the test process itself.
import S3rver from 's3rver';

const [directory, bucket] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: [{ name: bucket, configs: [] }],
});
const address = await server.run();
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
const stop = () => {
  void server.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The parent going away (a crashed test run) ends this process too.
process.stdin.on('end', stop);
process.stdin.resume();
