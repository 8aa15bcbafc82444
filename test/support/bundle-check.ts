import { createHash, createPublicKey, KeyObject, verify } from 'node:crypto';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';

/**
 * An independent verifier for signed case exports, written for the tests from SPEC
 * section 13 alone: node:crypto and a tar reader, none of the application's export code.
 */
export interface CheckedBundle {
  ok: boolean;
  problems: string[];
  entries: Map<string, Buffer>;
  manifest: {
    caseId: string;
    exportId: string;
    keyId: string;
    generatedAt: string;
    generatedBy: { id: string; username: string };
    auditHead: { id: string; hash: string } | null;
    files: { path: string; size: number; sha256: string }[];
  } | null;
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** Every entry of a tar held in memory (the test bundles are small). */
export async function tarEntries(bundle: Buffer): Promise<[string, Buffer][]> {
  const extract = tar.extract();
  Readable.from([bundle]).pipe(extract);
  const out: [string, Buffer][] = [];
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry as AsyncIterable<Buffer>) chunks.push(chunk);
    out.push([entry.header.name, Buffer.concat(chunks)]);
  }
  return out;
}

export async function checkBundle(bundle: Buffer, publicKeyPem: string): Promise<CheckedBundle> {
  const problems: string[] = [];
  let list: [string, Buffer][] = [];
  try {
    list = await tarEntries(bundle);
  } catch (error) {
    return {
      ok: false,
      problems: [`unreadable: ${(error as Error).message}`],
      entries: new Map(),
      manifest: null,
    };
  }
  const entries = new Map(list);
  if (entries.size !== list.length) problems.push('duplicate entry names');
  const manifestBytes = entries.get('manifest.json');
  const signature = entries.get('manifest.sig');
  if (!manifestBytes || !signature) {
    return {
      ok: false,
      problems: ['manifest.json or manifest.sig missing'],
      entries,
      manifest: null,
    };
  }
  const key: KeyObject = createPublicKey(publicKeyPem);
  const signatureText = signature.toString('latin1');
  const signatureBytes = Buffer.from(signatureText, 'base64');
  // Node's base64 decoder skips characters it does not know: insist on the exact encoding.
  if (
    signatureBytes.toString('base64') !== signatureText ||
    !verify(null, manifestBytes, key, signatureBytes)
  ) {
    problems.push('bad signature');
  }
  let manifest: CheckedBundle['manifest'] = null;
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8')) as CheckedBundle['manifest'];
  } catch {
    problems.push('manifest is not JSON');
  }
  const listed = new Set<string>();
  for (const file of manifest?.files ?? []) {
    listed.add(file.path);
    const bytes = entries.get(file.path);
    if (!bytes) problems.push(`${file.path} missing`);
    else if (bytes.length !== file.size || sha256(bytes) !== file.sha256) {
      problems.push(`${file.path} differs from the manifest`);
    }
  }
  for (const name of entries.keys()) {
    if (name !== 'manifest.json' && name !== 'manifest.sig' && !listed.has(name)) {
      problems.push(`${name} not in the manifest`);
    }
  }
  return { ok: problems.length === 0, problems, entries, manifest };
}

/** Where each entry's header and data sit in a ustar archive (parsed by hand). */
export function ustarLayout(
  bundle: Buffer,
): { name: string; header: number; data: number; size: number }[] {
  const out: { name: string; header: number; data: number; size: number }[] = [];
  let offset = 0;
  while (offset + 512 <= bundle.length) {
    const header = bundle.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const field = (start: number, length: number) =>
      header
        .subarray(start, start + length)
        .toString('latin1')
        .replace(/\0.*$/s, '');
    const prefix = field(345, 155);
    const name = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
    const size = parseInt(field(124, 12).trim() || '0', 8);
    out.push({ name, header: offset, data: offset + 512, size });
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Canonical JSON: object keys sorted at every level (what an audit entry's hash covers). */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record)
    .sort()
    .filter((k) => record[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonical(record[k])}`)
    .join(',')}}`;
}

/** An audit.jsonl line's hash, recomputed: sha256(prevHash "\n" canonical content). */
export function auditLineHash(line: Record<string, unknown>): string {
  const links = ['prevHash', 'hash', 'hashVersion', ...(line.hashVersion === 1 ? ['seq'] : [])];
  const content = Object.fromEntries(Object.entries(line).filter(([k]) => !links.includes(k)));
  return sha256(`${String(line.prevHash)}\n${canonical(content)}`);
}
