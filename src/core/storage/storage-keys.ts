import { UUID_LOWERCASE as UUID } from '../http/validation-patterns';
import { InvalidStorageKeyError } from './storage-driver';
const EXTENSION = /^\.[a-z0-9]{1,8}$/;
/**
 * The only key shapes that exist: `cases/{caseId}/{audioId}{.ext}`,
 * `archive/{audioId}/{audioId}{.ext}` and `exports/{exportId}.tar`.
 */
const KEY =
  /^((cases\/[0-9a-f-]{36}\/[0-9a-f-]{36}|archive\/[0-9a-f-]{36}\/[0-9a-f-]{36})(\.[a-z0-9]{1,8})?|exports\/[0-9a-f-]{36}\.tar)$/;

function checkParts(ids: string[], extension: string): void {
  if (!ids.every((id) => UUID.test(id)) || (extension !== '' && !EXTENSION.test(extension))) {
    throw new InvalidStorageKeyError(`${ids.join('/')}${extension}`);
  }
}

/** Where an audio file of a case lives while it is live. */
export function caseAudioKey(caseId: string, audioId: string, extension: string): string {
  checkParts([caseId, audioId], extension);
  return `cases/${caseId}/${audioId}${extension}`;
}

/** Where an archived audio file lives. */
export function archiveAudioKey(audioId: string, extension: string): string {
  checkParts([audioId], extension);
  return `archive/${audioId}/${audioId}${extension}`;
}

/** Where a signed case export bundle lives until it expires. */
export function exportBundleKey(exportId: string): string {
  checkParts([exportId], '');
  return `exports/${exportId}.tar`;
}

/** The extension of a key built above (`.wav`), or '' when it has none. */
export function extensionOfKey(key: string): string {
  return /(\.[a-z0-9]{1,8})$/.exec(key)?.[1] ?? '';
}

/** Drivers call this on every key: anything not built by the functions above is refused. */
export function assertValidKey(key: string): void {
  if (!KEY.test(key)) throw new InvalidStorageKeyError(key);
}

/** True for a key of the shapes above (what `list` yields); never throws. */
export function isValidKey(key: string): boolean {
  return KEY.test(key);
}

const PREFIX = /^[a-z0-9][a-z0-9/.-]*$/;

/** A `list` prefix: '' or lower-case key characters, no `..`, no leading `/`. */
export function assertValidPrefix(prefix: string): void {
  if (prefix !== '' && (!PREFIX.test(prefix) || prefix.split('/').includes('..'))) {
    throw new InvalidStorageKeyError(prefix);
  }
}
