import { Injectable } from '@nestjs/common';
import { CacheInvalidation } from '../core/cache/cache-invalidation';
import { CoherentCache } from '../core/cache/coherent-cache';
import { ValidationProblem } from '../core/http/problem.exception';
import type { Actor } from '../core/security/actor';
import { UsersService } from '../auth/users.service';
import { checkSetting, isSettingKey, MAX_SETTINGS_PER_USER, PAGE_SIZE_KEY } from './setting-rules';
import { SettingsException } from './settings.exception';
import { SettingsRepository } from './settings.repository';

export type SettingsMap = Record<string, unknown>;

/** The invalidation tag of one user's settings (the user_settings trigger sends it too). */
export const settingsTag = (userId: string): string => `settings:${userId}`;

/**
 * Per-user settings (SPEC section 11). Reads and writes are always the caller's own:
 * the user id comes from the actor, never from the request, so no route can reach
 * another user's settings except the admin read below.
 */
@Injectable()
export class SettingsService {
  /** The user's `pageSize`, read on every list request: kept coherent in memory. */
  private readonly pageSizes: CoherentCache<number | null>;

  constructor(
    private readonly settings: SettingsRepository,
    private readonly users: UsersService,
    private readonly invalidation: CacheInvalidation,
  ) {
    this.pageSizes = invalidation.create({ maxEntries: 10_000, ttlMs: 10 * 60_000 });
  }

  async list(userId: string): Promise<SettingsMap> {
    const rows = await this.settings.listOfUser(userId);
    return Object.fromEntries(rows.map((row) => [row.key, row.value]));
  }

  /** Another user's settings, for `users:manage` (the route checks the permission). */
  async listOfUser(userId: string): Promise<SettingsMap> {
    await this.users.get(userId); // 404 for a user that does not exist
    return this.list(userId);
  }

  async get(actor: Actor, key: string): Promise<unknown> {
    assertKey(key);
    const row = await this.settings.findOfUser(actor.userId, key);
    if (!row) throw SettingsException.notSet(key);
    return row.value;
  }

  /** Stores the value as its rule normalises it (a canonical locale, muted types once). */
  async put(actor: Actor, key: string, value: unknown): Promise<unknown> {
    assertKey(key);
    const check = checkSetting(key, value);
    if (!check.ok) throw new ValidationProblem([{ field: 'value', message: check.message }]);
    const stored = await this.settings.upsert(
      actor.userId,
      key,
      check.value,
      MAX_SETTINGS_PER_USER,
    );
    if (!stored) throw SettingsException.tooMany(MAX_SETTINGS_PER_USER);
    this.invalidation.invalidate(settingsTag(actor.userId));
    return check.value;
  }

  async delete(actor: Actor, key: string): Promise<void> {
    assertKey(key);
    if (!(await this.settings.delete(actor.userId, key))) throw SettingsException.notSet(key);
    this.invalidation.invalidate(settingsTag(actor.userId));
  }

  /** The user's default list `limit`, when they set one (no query while the cache is live). */
  async pageSizeOf(userId: string): Promise<number | undefined> {
    const size = await this.pageSizes.get(
      userId,
      async () => {
        const row = await this.settings.findOfUser(userId, PAGE_SIZE_KEY);
        return typeof row?.value === 'number' ? row.value : null;
      },
      () => [settingsTag(userId)],
    );
    return size ?? undefined;
  }
}

function assertKey(key: string): void {
  if (!isSettingKey(key)) {
    throw new ValidationProblem([
      { field: 'key', message: 'key must match ^[a-z][a-z0-9_.-]{0,63}$' },
    ]);
  }
}
