import { createPublicKey, KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BundleVerdict, verifyBundle } from '../exports/bundle-verifier';

/* eslint-disable no-console -- a CLI talks to its operator on stdout */

export const VERIFY_BUNDLE_USAGE =
  'verify-bundle <file> [--key <public key PEM file | URL of /.well-known/verbatim-signing-key>] [--json]';

/**
 * `npm run cli -- verify-bundle <file> [--key ...]`: checks a signed case export offline,
 * with nothing but the bundle and a public key. It runs before (and without) the
 * application: no database, no Redis, no configuration. Without --key, the published
 * key named by the manifest's keyId is looked up in KEYS_DIR (`<keyId>.pub.pem`), which
 * only helps on the server itself. Exit code 0 when valid, 1 otherwise.
 */
export async function verifyBundleCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { key: { type: 'string', short: 'k' }, json: { type: 'boolean' } },
  });
  const [file] = positionals;
  if (!file || positionals.length > 1) {
    console.error(`Usage: ${VERIFY_BUNDLE_USAGE}`);
    return 2;
  }
  const key = values.key ? await loadKey(values.key) : publishedKeys();
  const verdict = await verifyBundle(createReadStream(file, { highWaterMark: 1 << 20 }), key);
  report(file, verdict, values.json === true);
  return verdict.valid ? 0 : 1;
}

function report(file: string, verdict: BundleVerdict, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(verdict, null, 2));
    return;
  }
  if (verdict.valid) {
    console.log(
      `${file}: valid — signature by key ${verdict.keyId}, ${verdict.checked} entries match the manifest ` +
        `(case ${verdict.caseId}, export ${verdict.exportId})`,
    );
    return;
  }
  console.log(`${file}: NOT valid`);
  for (const problem of verdict.problems) console.log(`  - ${problem}`);
}

/** A PEM file, a PEM string, or a URL answering `{ keyId, publicKeyPem }` (or PEM). */
async function loadKey(source: string): Promise<KeyObject> {
  let pem: string;
  if (/^https?:\/\//i.test(source)) {
    const response = await fetch(source);
    if (!response.ok) throw new Error(`${source} answered ${response.status}`);
    const text = await response.text();
    pem = text.trimStart().startsWith('{')
      ? (JSON.parse(text) as { publicKeyPem: string }).publicKeyPem
      : text;
  } else if (source.includes('-----BEGIN')) {
    pem = source;
  } else {
    pem = await readFile(source, 'utf8');
  }
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('The key is not an Ed25519 public key');
  return key;
}

function publishedKeys(): (keyId: string) => Promise<KeyObject | undefined> {
  const dir = process.env.KEYS_DIR || './.data/keys';
  return async (keyId) => {
    if (!/^[0-9a-f]{16}$/.test(keyId)) return undefined;
    const pem = await readFile(join(dir, `${keyId}.pub.pem`), 'utf8').catch(() => null);
    return pem ? createPublicKey(pem) : undefined;
  };
}
