import type { Actor } from './actor';

/** Kinds of resource whose visibility follows case (or conversation) membership. */
export type ResourceKind = 'case' | 'conversation' | 'audio' | 'transcription';

/** The caller's standing on a resource: case participant roles; conversation members are `member`. */
export type Participation = 'lead' | 'member' | 'viewer';

/**
 * Answers the resource check for routes that declare `resource`. Each feature module
 * provides one under RESOURCE_ACCESS[kind]; the guard asks it once per request, while
 * lists filter in SQL instead.
 */
export interface ResourceAccessResolver {
  /**
   * `undefined` when the resource does not exist (or is deleted); otherwise the
   * caller's participation, `null` when it has none.
   */
  participation(actor: Actor, id: string): Promise<Participation | null | undefined>;
}

export const RESOURCE_ACCESS: Record<ResourceKind, symbol> = {
  case: Symbol('CASE_ACCESS'),
  conversation: Symbol('CONVERSATION_ACCESS'),
  audio: Symbol('AUDIO_ACCESS'),
  transcription: Symbol('TRANSCRIPTION_ACCESS'),
};
