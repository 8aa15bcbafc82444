import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import { CursorQuery, PageQuery } from '../core/http/pagination';
import type { AuthenticatedRequest } from '../core/security/access.decorators';
import { SettingsService } from './settings.service';

type Handler = (...args: unknown[]) => unknown;

/**
 * Makes a user's `pageSize` setting the default `limit` of every list (SPEC section 11):
 * on a route whose query DTO is a PageQuery or CursorQuery, when the caller sent no
 * `limit`, it is filled in from the setting before the validation pipe builds the DTO.
 * A `limit` in the request still wins. Which routes are lists is read once per handler
 * from the parameter types TypeScript emits, so a new list is covered without a line.
 */
@Injectable()
export class DefaultPageSizeInterceptor implements NestInterceptor {
  private readonly lists = new WeakMap<Handler, boolean>();

  constructor(private readonly settings: SettingsService) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (context.getType() === 'http') {
      const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
      const query = request.query as Record<string, unknown> | undefined;
      if (request.user && query && query.limit === undefined && this.isList(context)) {
        const size = await this.settings.pageSizeOf(request.user.userId);
        if (size !== undefined) query.limit = String(size);
      }
    }
    return next.handle();
  }

  private isList(context: ExecutionContext): boolean {
    const handler = context.getHandler() as Handler;
    let list = this.lists.get(handler);
    if (list === undefined) {
      const types = (Reflect.getMetadata(
        'design:paramtypes',
        context.getClass().prototype as object,
        handler.name,
      ) ?? []) as unknown[];
      list = types.some(
        (type) =>
          typeof type === 'function' &&
          (type === PageQuery ||
            type === CursorQuery ||
            type.prototype instanceof PageQuery ||
            type.prototype instanceof CursorQuery),
      );
      this.lists.set(handler, list);
    }
    return list;
  }
}
