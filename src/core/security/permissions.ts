/** The permission catalogue (SPEC section 2). Roles grant these, or `resource:*`, or `*`. */
export const PERMISSION_CATALOGUE = {
  'users:manage': 'Create, read and change users',
  'roles:manage': 'Create, change and delete roles and their permissions',
  'cases:read': 'Read cases the caller participates in',
  'cases:write': 'Create cases and change cases the caller participates in',
  'cases:delete': 'Delete cases and set or lift legal holds',
  'cases:all': 'See every case, not only participated ones',
  'audio:read': 'Read audio metadata and download audio',
  'audio:upload': 'Upload audio and requeue failed audio',
  'audio:archive': 'Archive and restore audio',
  'audio:delete': 'Delete audio content',
  'transcriptions:read': 'Read transcriptions',
  'transcriptions:write': 'Post transcriptions, claim and fail audio',
  'analysis:read': 'Read analysis results',
  'analysis:write': 'Post analysis results',
  'conversations:read': 'Read conversations and their turns',
  'conversations:write': 'Create, change and end conversations; post turns',
  'conversations:ingest': 'Post live turns to visible conversations',
  'audit:read': 'Read and verify the audit log',
  'stats:read': 'Read usage and system statistics',
  'queues:admin': 'Administer background queues and see every job',
  'webhooks:manage': 'Create, change, test and delete outgoing webhooks; read their deliveries',
} as const;

export type Permission = keyof typeof PERMISSION_CATALOGUE;

export const PERMISSIONS = Object.keys(PERMISSION_CATALOGUE) as Permission[];

const GRANT_PATTERN = /^(\*|[a-z_]+:(\*|[a-z_]+))$/;

/** A string a role may carry: a catalogue permission, `resource:*` for a known resource, or `*`. */
export function isValidGrant(grant: string): boolean {
  if (!GRANT_PATTERN.test(grant)) return false;
  if (grant === '*') return true;
  const [resource, action] = grant.split(':');
  if (action === '*') return PERMISSIONS.some((p) => p.startsWith(`${resource}:`));
  return (PERMISSIONS as string[]).includes(grant);
}

/**
 * The grant that includes the required permission (itself, `resource:*` or `*`), first
 * in `granted`'s order; undefined when none does. Permission explain names it.
 */
export function matchingGrant(granted: Iterable<string>, required: Permission): string | undefined {
  const resource = required.slice(0, required.indexOf(':'));
  for (const grant of granted) {
    if (grant === '*' || grant === required || grant === `${resource}:*`) return grant;
  }
  return undefined;
}

/** Whether a set of grants (with wildcards) includes the required permission. */
export function grants(granted: Iterable<string>, required: Permission): boolean {
  return matchingGrant(granted, required) !== undefined;
}

/**
 * Whether `granted` covers every concrete permission that `wanted` stands for
 * (wildcards expanded): the test that keeps managers from handing out more than they hold.
 */
export function coversAll(granted: Iterable<string>, wanted: Iterable<string>): boolean {
  const held = [...granted];
  return expandGrants(wanted).every((permission) => grants(held, permission));
}

/** Expands grants to the concrete catalogue permissions they cover, sorted. */
export function expandGrants(granted: Iterable<string>): Permission[] {
  const list = [...granted];
  return PERMISSIONS.filter((permission) => grants(list, permission));
}
