import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { UserSettingEntity } from './entities/user-setting.entity';

export interface StoredSetting {
  key: string;
  value: unknown;
}

@Injectable()
export class SettingsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private repo() {
    return this.dataSource.getRepository(UserSettingEntity);
  }

  listOfUser(userId: string): Promise<StoredSetting[]> {
    return this.repo().find({
      select: { key: true, value: true },
      where: { userId },
      order: { key: 'ASC' },
    });
  }

  findOfUser(userId: string, key: string): Promise<StoredSetting | null> {
    return this.repo().findOne({ select: { key: true, value: true }, where: { userId, key } });
  }

  /**
   * Sets `key` to `value`; a new key only while the user has fewer than `maxKeys`.
   * Returns false when the cap refused it. One statement: no read-then-write window for
   * one request (concurrent new keys of one user may pass the cap by a few; it is a bound
   * against abuse, not an invariant).
   */
  async upsert(userId: string, key: string, value: unknown, maxKeys: number): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(
      `INSERT INTO user_settings (user_id, key, value, updated_at)
       SELECT $1::uuid, $2::varchar, $3::jsonb, now()
        WHERE EXISTS (SELECT 1 FROM user_settings WHERE user_id = $1::uuid AND key = $2::varchar)
           OR (SELECT count(*) FROM user_settings WHERE user_id = $1::uuid) < $4::int
       ON CONFLICT (user_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
       RETURNING key`,
      [userId, key, JSON.stringify(value), maxKeys],
    );
    return rows.length > 0;
  }

  /** Returns whether the key was set. */
  async delete(userId: string, key: string): Promise<boolean> {
    const result = await this.repo().delete({ userId, key });
    return (result.affected ?? 0) > 0;
  }
}
