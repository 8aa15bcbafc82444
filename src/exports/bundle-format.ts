/**
 * The layout of a signed case export (SPEC section 13). A plain ustar archive:
 *
 *   case.json, notes.json, audio/<audioId>.<ext>, transcriptions/<audioId>/v<n>.json,
 *   analysis/<audioId>/v<n>.json, conversations/<conversationId>.json, audit.jsonl
 *   manifest.json   every entry above with its size and sha256 (written after them,
 *                   once their hashes are known, so each byte is read once)
 *   manifest.sig    base64 Ed25519 signature of the exact bytes of manifest.json
 *
 * Shared by the builder and the offline verifier; nothing here touches the server.
 */
export const MANIFEST_ENTRY = 'manifest.json';
export const SIGNATURE_ENTRY = 'manifest.sig';
export const BUNDLE_FORMAT = 'verbatim-case-export';
export const BUNDLE_FORMAT_VERSION = 1;

export interface ManifestFile {
  path: string;
  size: number;
  sha256: string;
}

export interface ExportManifest {
  format: typeof BUNDLE_FORMAT;
  formatVersion: typeof BUNDLE_FORMAT_VERSION;
  exportId: string;
  caseId: string;
  generatedAt: string;
  generatedBy: { id: string; username: string };
  /** Id of the signing key (first 16 hex of SHA-256 over its SPKI DER). */
  keyId: string;
  /** The audit chain's newest entry when the bundle was built; null for an empty log. */
  auditHead: { id: string; hash: string } | null;
  /** Every entry of the bundle but manifest.json and manifest.sig, in archive order. */
  files: ManifestFile[];
}
