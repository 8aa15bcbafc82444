import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { databaseOptions } from './database-options';

/** Used by the TypeORM CLI (`npm run migration:*`). */
export default new DataSource(
  databaseOptions({
    url: process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/verbatim',
    poolSize: 2,
  }),
);
