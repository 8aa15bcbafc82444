import { Injectable, OnModuleInit } from '@nestjs/common';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { link, mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppConfig } from '../config/app-config';

const PRIVATE_KEY_FILE = 'signing-key.pem';
const PUBLIC_KEY_SUFFIX = '.pub.pem';

interface KeyPair {
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** A key's id: the first 16 hex digits of SHA-256 over its public key (SPKI DER). */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

/**
 * The server's Ed25519 signing key, kept outside the database so that whoever can
 * write the database still cannot forge a signature. From SIGNING_KEY_PEM, or generated
 * once into KEYS_DIR (`signing-key.pem`, mode 0600). Every public key is published as
 * `KEYS_DIR/<keyId>.pub.pem`, so signatures of a rotated-out key keep verifying as long
 * as its public file stays. The private key never leaves this class: no getter, no log.
 */
@Injectable()
export class SigningKeys implements OnModuleInit {
  private current?: Promise<KeyPair>;
  private readonly published = new Map<string, KeyObject>();

  constructor(private readonly config: AppConfig) {}

  /** A configured key is checked at start; a generated one only when first needed. */
  onModuleInit(): void {
    const pem = this.config.get('SIGNING_KEY_PEM');
    if (pem) this.current = Promise.resolve(pairOf(createPrivateKey(pem)));
  }

  /** Signs `data`; returns the base64 signature and the id of the key that made it. */
  async sign(data: Buffer): Promise<{ keyId: string; signature: string }> {
    const pair = await this.pair();
    return { keyId: pair.keyId, signature: sign(null, data, pair.privateKey).toString('base64') };
  }

  /** Whether `signature` (base64) is a signature of `data` by the published key `keyId`. */
  async verify(data: Buffer, signature: string, keyId: string): Promise<boolean> {
    const publicKey = await this.publicKey(keyId);
    if (!publicKey || !/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return false;
    return verify(null, data, publicKey, Buffer.from(signature, 'base64'));
  }

  /** The current public key, for whoever checks signatures outside the server. */
  async currentPublicKey(): Promise<{ keyId: string; publicKeyPem: string }> {
    const pair = await this.pair();
    return {
      keyId: pair.keyId,
      publicKeyPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    };
  }

  private pair(): Promise<KeyPair> {
    this.current ??= this.loadOrGenerate().catch((error: unknown) => {
      this.current = undefined;
      throw error;
    });
    return this.current;
  }

  private async publicKey(keyId: string): Promise<KeyObject | undefined> {
    const pair = await this.pair();
    if (keyId === pair.keyId) return pair.publicKey;
    if (!this.published.has(keyId)) await this.readPublished();
    return this.published.get(keyId);
  }

  private async readPublished(): Promise<void> {
    const dir = this.config.get('KEYS_DIR');
    const files = await readdir(dir).catch(() => [] as string[]);
    for (const file of files.filter((name) => name.endsWith(PUBLIC_KEY_SUFFIX))) {
      try {
        const key = createPublicKey(await readFile(join(dir, file)));
        if (key.asymmetricKeyType === 'ed25519') this.published.set(keyIdOf(key), key);
      } catch {
        // Not a public key: ignored, as any other file of the directory.
      }
    }
  }

  /**
   * The key in KEYS_DIR, or a new one written there. Written to a temporary file and
   * linked into place, which fails if another process got there first: then its key is
   * read, so every process of a deployment signs with the same key.
   */
  private async loadOrGenerate(): Promise<KeyPair> {
    const dir = this.config.get('KEYS_DIR');
    const file = join(dir, PRIVATE_KEY_FILE);
    const existing = await readFile(file).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    if (existing) return this.publish(pairOf(createPrivateKey(existing)));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ed25519');
    const temporary = join(dir, `.${PRIVATE_KEY_FILE}.${randomBytes(6).toString('hex')}`);
    await writeFile(temporary, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
      flag: 'wx',
    });
    try {
      await link(temporary, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      await unlink(temporary);
    }
    return this.publish(pairOf(createPrivateKey(await readFile(file))));
  }

  private async publish(pair: KeyPair): Promise<KeyPair> {
    const file = join(this.config.get('KEYS_DIR'), `${pair.keyId}${PUBLIC_KEY_SUFFIX}`);
    await writeFile(file, pair.publicKey.export({ type: 'spki', format: 'pem' }), {
      mode: 0o644,
      flag: 'wx',
    }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    this.published.set(pair.keyId, pair.publicKey);
    return pair;
  }
}

function pairOf(privateKey: KeyObject): KeyPair {
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error('The signing key must be an Ed25519 private key');
  }
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), privateKey, publicKey };
}
