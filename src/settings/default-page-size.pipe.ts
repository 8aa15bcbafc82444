import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { CursorQuery, PageQuery } from '../core/http/pagination';
import { RequestContext } from '../core/http/request-context';
import { SettingsService } from './settings.service';

/**
 * Makes a user's `pageSize` setting the default `limit` of every list (SPEC section 11):
 * for a query DTO that is a PageQuery or CursorQuery, when the caller sent no `limit`, it
 * is filled in from the setting before the validation pipe builds the DTO (this pipe is
 * global and registered as a provider, so it runs before the one app.factory.ts adds). A
 * `limit` in the request still wins. Which DTOs are lists is decided once per class, so a
 * new list is covered without a line.
 *
 * A pipe, not an interceptor: one global interceptor puts every request of every route
 * through Nest's RxJS interceptor chain (two AsyncResource binds, defer, mergeAll), which
 * showed in request profiles; a pipe costs a type check per parameter.
 */
@Injectable()
export class DefaultPageSizePipe implements PipeTransform {
  private readonly lists = new WeakMap<object, boolean>();

  constructor(
    private readonly settings: SettingsService,
    private readonly requestContext: RequestContext,
  ) {}

  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'query' || metadata.data !== undefined || !this.isList(metadata.metatype))
      return value;
    const query = value as Record<string, unknown> | undefined;
    const actor = this.requestContext.actor;
    if (!actor || !query || query.limit !== undefined) return value;
    return this.settings
      .pageSizeOf(actor.userId)
      .then((size) => (size === undefined ? query : { ...query, limit: String(size) }));
  }

  private isList(type: ArgumentMetadata['metatype']): boolean {
    if (typeof type !== 'function') return false;
    let list = this.lists.get(type);
    if (list === undefined) {
      list =
        type === PageQuery ||
        type === CursorQuery ||
        type.prototype instanceof PageQuery ||
        type.prototype instanceof CursorQuery;
      this.lists.set(type, list);
    }
    return list;
  }
}
