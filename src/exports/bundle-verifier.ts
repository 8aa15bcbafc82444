import { createHash, KeyObject, verify } from 'node:crypto';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { keyIdOf } from '../core/signing/signing-keys';
import {
  BUNDLE_FORMAT,
  ExportManifest,
  MANIFEST_ENTRY,
  ManifestFile,
  SIGNATURE_ENTRY,
} from './bundle-format';

/** manifest.json and manifest.sig are read into memory; anything larger is not ours. */
const MAX_SMALL_ENTRY = 64 * 1024 * 1024;
const SHA256 = /^[0-9a-f]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export interface BundleVerdict {
  valid: boolean;
  /** Every problem found, in the order found; empty when valid. */
  problems: string[];
  keyId: string | null;
  caseId: string | null;
  exportId: string | null;
  /** Entries checked against the manifest (excluding manifest.json and manifest.sig). */
  checked: number;
}

/**
 * Checks a bundle offline: the signature over manifest.json with `key`, and every entry
 * against the manifest's size and sha256, with no entry missing or added. Entries are
 * hashed as they stream past; only the manifest and the signature are held in memory.
 * `key` may be a function of the manifest's keyId (a directory of published keys).
 */
export async function verifyBundle(
  input: Readable,
  key: KeyObject | ((keyId: string) => Promise<KeyObject | undefined>),
): Promise<BundleVerdict> {
  const problems: string[] = [];
  const seen = new Map<string, { size: number; sha256: string }>();
  let manifestBytes: Buffer | null = null;
  let signatureText: string | null = null;

  const extract = tar.extract();
  input.on('error', (error) => extract.destroy(error));
  input.pipe(extract);
  try {
    for await (const entry of extract) {
      const { name, type } = entry.header;
      const body = entry as AsyncIterable<Buffer>;
      if (type !== 'file') {
        problems.push(`unexpected ${type} entry ${name}`);
        for await (const chunk of body) void chunk;
        continue;
      }
      if (
        seen.has(name) ||
        (name === MANIFEST_ENTRY && manifestBytes) ||
        (name === SIGNATURE_ENTRY && signatureText !== null)
      ) {
        problems.push(`entry ${name} appears twice`);
      }
      if (name === MANIFEST_ENTRY || name === SIGNATURE_ENTRY) {
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of body) {
          size += chunk.length;
          if (size <= MAX_SMALL_ENTRY) chunks.push(chunk);
        }
        if (size > MAX_SMALL_ENTRY) {
          problems.push(`${name} is larger than ${MAX_SMALL_ENTRY} bytes`);
          continue;
        }
        if (name === MANIFEST_ENTRY) manifestBytes = Buffer.concat(chunks);
        else signatureText = Buffer.concat(chunks).toString('utf8').trim();
        continue;
      }
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of body) {
        hash.update(chunk);
        size += chunk.length;
      }
      seen.set(name, { size, sha256: hash.digest('hex') });
    }
  } catch (error) {
    problems.push(`the archive is damaged or truncated: ${(error as Error).message}`);
  } finally {
    input.unpipe(extract);
    input.destroy();
  }

  const verdict = (manifest: Partial<ExportManifest> | null, checked: number): BundleVerdict => ({
    valid: problems.length === 0,
    problems,
    keyId: typeof manifest?.keyId === 'string' ? manifest.keyId : null,
    caseId: typeof manifest?.caseId === 'string' ? manifest.caseId : null,
    exportId: typeof manifest?.exportId === 'string' ? manifest.exportId : null,
    checked,
  });

  if (!manifestBytes) problems.push(`${MANIFEST_ENTRY} is missing`);
  if (signatureText === null) problems.push(`${SIGNATURE_ENTRY} is missing`);
  if (!manifestBytes) return verdict(null, 0);

  let manifest: Partial<ExportManifest> | null = null;
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8')) as Partial<ExportManifest>;
  } catch {
    problems.push(`${MANIFEST_ENTRY} is not JSON`);
  }

  // The signature first: everything below is only worth as much as the manifest.
  if (signatureText !== null) {
    const keyId = typeof manifest?.keyId === 'string' ? manifest.keyId : null;
    const publicKey = typeof key === 'function' ? (keyId ? await key(keyId) : undefined) : key;
    if (!publicKey) {
      problems.push(`no public key for keyId ${String(keyId)}`);
    } else if (publicKey.asymmetricKeyType !== 'ed25519') {
      problems.push('the public key is not an Ed25519 key');
    } else {
      if (keyId !== null && keyIdOf(publicKey) !== keyId) {
        problems.push(`the manifest names key ${keyId}, the key given is ${keyIdOf(publicKey)}`);
      }
      const signature = BASE64.test(signatureText) ? Buffer.from(signatureText, 'base64') : null;
      if (!signature || !verify(null, manifestBytes, publicKey, signature)) {
        problems.push(`${SIGNATURE_ENTRY} is not a valid signature of ${MANIFEST_ENTRY}`);
      }
    }
  }
  if (!manifest) return verdict(null, 0);
  if (manifest.format !== BUNDLE_FORMAT || !Array.isArray(manifest.files)) {
    problems.push(`${MANIFEST_ENTRY} is not a Verbatim case export manifest`);
    return verdict(manifest, 0);
  }

  let checked = 0;
  const listed = new Set<string>();
  for (const file of manifest.files as Partial<ManifestFile>[]) {
    const path = typeof file?.path === 'string' ? file.path : null;
    if (!path || !Number.isSafeInteger(file.size) || !SHA256.test(String(file.sha256))) {
      problems.push(`${MANIFEST_ENTRY} lists an invalid file ${JSON.stringify(file)}`);
      continue;
    }
    if (listed.has(path)) problems.push(`${MANIFEST_ENTRY} lists ${path} twice`);
    listed.add(path);
    const found = seen.get(path);
    if (!found) {
      problems.push(`${path} is listed in the manifest but missing from the bundle`);
    } else if (found.size !== file.size) {
      problems.push(`${path} has ${found.size} bytes, the manifest says ${String(file.size)}`);
    } else if (found.sha256 !== file.sha256) {
      problems.push(`${path} does not match its sha256 in the manifest`);
    } else {
      checked += 1;
    }
  }
  for (const name of seen.keys()) {
    if (!listed.has(name)) problems.push(`${name} is in the bundle but not in the manifest`);
  }
  return verdict(manifest, checked);
}
