import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
  VersionColumn,
} from 'typeorm';

@Entity('roles')
@Check('roles_name_format_check', `name ~ '^[a-z][a-z0-9_]{1,63}$'`)
@Check('roles_permissions_array_check', `jsonb_typeof(permissions) = 'array'`)
export class RoleEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  /** Stable lower_snake_case name by which users and other roles refer to it. */
  @Column({ type: 'varchar', length: 64, unique: true })
  name!: string;

  @Column({ type: 'text', default: '' })
  description!: string;

  @Column({ type: 'jsonb', default: () => "'[]'" })
  permissions!: string[];

  @Column({ type: 'varchar', length: 64, nullable: true })
  parentRole!: string | null;

  @ManyToOne(() => RoleEntity, { onDelete: 'RESTRICT', onUpdate: 'CASCADE', nullable: true })
  @JoinColumn({ name: 'parent_role', referencedColumnName: 'name' })
  parent?: RoleEntity | null;

  @Column({ type: 'boolean', default: false })
  isBuiltIn!: boolean;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;

  @VersionColumn({ default: 1 })
  version!: number;
}
