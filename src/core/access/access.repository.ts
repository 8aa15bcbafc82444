import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { UUID } from '../http/validation-patterns';
import type { Participation, ResourceKind } from './access-decision';

/** A live resource's case (cache tags) and the caller's participation on it. */
export interface ResourceStanding {
  role: Participation | null;
  caseId: string | null;
}

/**
 * One statement per kind: the live resources among `$1` and the caller's (`$2`) role.
 * A resource is live when it and everything it belongs to is not deleted. On a
 * conversation the participant's own role (`owner`, `member`, `viewer`) wins, so an owner
 * can make a case member read-only there; otherwise its live linked case lends its role,
 * a case lead as `member` (only owners and cases:all manage a conversation).
 */
const STANDINGS: Record<ResourceKind, string> = {
  case: `SELECT c.id::text AS id, c.id::text AS "caseId",
                (SELECT p.role FROM case_participants p WHERE p.case_id = c.id AND p.user_id = $2) AS role
           FROM cases c WHERE c.id = ANY($1::uuid[]) AND c.deleted_at IS NULL`,
  audio: `SELECT a.id::text AS id, a.case_id::text AS "caseId",
                 (SELECT p.role FROM case_participants p WHERE p.case_id = a.case_id AND p.user_id = $2) AS role
            FROM audio_files a JOIN cases c ON c.id = a.case_id AND c.deleted_at IS NULL
           WHERE a.id = ANY($1::uuid[]) AND a.deleted_at IS NULL`,
  transcription: `SELECT t.id::text AS id, t.case_id::text AS "caseId",
                         (SELECT p.role FROM case_participants p WHERE p.case_id = t.case_id AND p.user_id = $2) AS role
                    FROM transcriptions t
                    JOIN audio_files a ON a.id = t.audio_file_id AND a.deleted_at IS NULL
                    JOIN cases c ON c.id = t.case_id AND c.deleted_at IS NULL
                   WHERE t.id = ANY($1::uuid[])`,
  conversation: `SELECT v.id::text AS id, v.case_id::text AS "caseId",
                        COALESCE(
                          (SELECT p.role FROM conversation_participants p
                            WHERE p.conversation_id = v.id AND p.user_id = $2),
                          (SELECT CASE cp.role WHEN 'lead' THEN 'member' ELSE cp.role END
                             FROM case_participants cp
                             JOIN cases k ON k.id = cp.case_id AND k.deleted_at IS NULL
                            WHERE cp.case_id = v.case_id AND cp.user_id = $2)
                        ) AS role
                   FROM conversations v WHERE v.id = ANY($1::uuid[]) AND v.status <> 'deleted'`,
};

/**
 * Reads who takes part in what: the only reader of `case_participants` and
 * `conversation_participants` outside the modules that write them. Plain SQL, so the
 * access layer depends on no feature module.
 */
@Injectable()
export class AccessRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * The caller's role per id, in one query: absent when the resource does not exist or
   * is deleted (or the id is not a UUID), `null` when it exists without participation.
   */
  async participations(
    kind: ResourceKind,
    ids: readonly string[],
    userId: string,
  ): Promise<Map<string, Participation | null>> {
    const standings = await this.standings(kind, ids, userId);
    return new Map([...standings].map(([id, standing]) => [id, standing.role]));
  }

  /** As `participations`, with each resource's case (for cache tags). */
  async standings(
    kind: ResourceKind,
    ids: readonly string[],
    userId: string,
  ): Promise<Map<string, ResourceStanding>> {
    // Keyed by the ids as given; Postgres answers in lower case.
    const asGiven = new Map<string, string[]>();
    for (const id of ids) {
      if (!UUID.test(id)) continue;
      const key = id.toLowerCase();
      asGiven.set(key, [...(asGiven.get(key) ?? []), id]);
    }
    const found = new Map<string, ResourceStanding>();
    if (asGiven.size === 0) return found;
    const rows = await this.dataSource.query<
      { id: string; caseId: string | null; role: Participation | null }[]
    >(STANDINGS[kind], [[...asGiven.keys()], userId]);
    for (const row of rows) {
      for (const id of asGiven.get(row.id) ?? []) {
        found.set(id, { role: row.role, caseId: row.caseId });
      }
    }
    return found;
  }
}
