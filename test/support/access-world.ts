import { randomBytes, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { Actor } from '../../src/core/security/actor';

/**
 * Rows for the access layer's integration specs, written with plain SQL so the specs
 * depend on nothing but the schema: users, cases, participants, audio files,
 * transcriptions and conversations, each optionally deleted.
 */
export class AccessWorld {
  constructor(private readonly db: DataSource) {}

  private unique(prefix: string): string {
    return `${prefix}${randomBytes(6).toString('hex')}`;
  }

  async user(): Promise<string> {
    const name = this.unique('acc');
    const [row] = await this.db.query<{ id: string }[]>(
      `INSERT INTO users (username, email, full_name, password_hash, role)
       VALUES ($1, $2, $1, 'not-a-hash', 'case_worker') RETURNING id`,
      [name, `${name}@example.test`],
    );
    return row!.id;
  }

  async case(createdBy: string, opts: { deleted?: boolean; title?: string } = {}): Promise<string> {
    const [row] = await this.db.query<{ id: string }[]>(
      `INSERT INTO cases (case_code, title, status, priority, created_by, deleted_at)
       VALUES ($1, $2, 'active', 'medium', $3, $4) RETURNING id`,
      [
        this.unique('ACC-').toUpperCase(),
        opts.title ?? 'Access case',
        createdBy,
        opts.deleted ? new Date() : null,
      ],
    );
    return row!.id;
  }

  async participant(caseId: string, userId: string, role: string): Promise<void> {
    await this.db.query(
      `INSERT INTO case_participants (case_id, user_id, role) VALUES ($1, $2, $3)`,
      [caseId, userId, role],
    );
  }

  async audio(
    caseId: string,
    uploadedBy: string,
    opts: { deleted?: boolean } = {},
  ): Promise<string> {
    const id = randomUUID();
    await this.db.query(
      `INSERT INTO audio_files (id, case_id, original_name, mime_type, size_bytes, sha256, status,
                                storage_type, storage_key, uploaded_by, deleted_at)
       VALUES ($1, $2, 'a.wav', 'audio/wav', 1, $3, 'queued', 'local', $4, $5, $6)`,
      [
        id,
        caseId,
        randomBytes(32).toString('hex'),
        `access/${id}`,
        uploadedBy,
        opts.deleted ? new Date() : null,
      ],
    );
    return id;
  }

  /** The latest version of `audioId`'s transcription, searchable (config `simple`) by `content`. */
  async transcription(
    audioId: string,
    caseId: string,
    createdBy: string,
    content = 'access words',
  ): Promise<string> {
    const [row] = await this.db.query<{ id: string }[]>(
      `INSERT INTO transcriptions (audio_file_id, case_id, version, audio_sha256, content, segments,
                                   segment_count, engine, created_by, search_config, search_vector)
       VALUES ($1, $2, 1, $3, $4, '[]', 0, 'test', $5, 'simple', to_tsvector('simple', $4))
       RETURNING id`,
      [audioId, caseId, 'a'.repeat(64), content, createdBy],
    );
    return row!.id;
  }

  async conversation(
    createdBy: string,
    opts: { caseId?: string | null; deleted?: boolean } = {},
  ): Promise<string> {
    const [row] = await this.db.query<{ id: string }[]>(
      `INSERT INTO conversations (name, case_id, status, partition_month, created_by)
       VALUES ($1, $2, $3, '2026-01-01', $4) RETURNING id`,
      [this.unique('access '), opts.caseId ?? null, opts.deleted ? 'deleted' : 'active', createdBy],
    );
    return row!.id;
  }

  async conversationParticipant(
    conversationId: string,
    userId: string,
    role: 'owner' | 'member' | 'viewer' = 'member',
  ): Promise<void> {
    await this.db.query(
      `INSERT INTO conversation_participants (conversation_id, user_id, role) VALUES ($1, $2, $3)`,
      [conversationId, userId, role],
    );
  }
}

/** An authenticated caller as the guard sees it; `seesAll` gives the role cases:all. */
export function actorOf(userId: string, seesAll = false): Actor {
  return {
    userId,
    username: `user-${userId.slice(0, 8)}`,
    role: seesAll ? 'supervisor' : 'case_worker',
    grants: seesAll ? ['cases:read', 'cases:all'] : ['cases:read'],
    via: 'access-token',
  };
}
