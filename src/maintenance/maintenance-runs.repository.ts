import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { MaintenanceKind, MaintenanceRunEntity } from './entities/maintenance-run.entity';

@Injectable()
export class MaintenanceRunsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async record(run: Omit<MaintenanceRunEntity, 'id'>): Promise<MaintenanceRunEntity> {
    const repository = this.dataSource.getRepository(MaintenanceRunEntity);
    return repository.save(repository.create(run));
  }

  /** The newest run of a kind, optionally only successful or failed ones. */
  latest(kind: MaintenanceKind, succeeded?: boolean): Promise<MaintenanceRunEntity | null> {
    return this.dataSource.getRepository(MaintenanceRunEntity).findOne({
      where: { kind, ...(succeeded === undefined ? {} : { succeeded }) },
      order: { finishedAt: 'DESC', id: 'DESC' },
    });
  }
}
