/** Seeded roles (SPEC section 2). They cannot be deleted; `admin` cannot be changed. */
export const BUILT_IN_ROLES: { name: string; description: string; permissions: string[] }[] = [
  { name: 'admin', description: 'Everything', permissions: ['*'] },
  {
    name: 'supervisor',
    description:
      'Every case, its audio, transcriptions, analyses and conversations; audit and statistics',
    permissions: [
      'cases:*',
      'audio:*',
      'transcriptions:*',
      'analysis:*',
      'conversations:*',
      'audit:read',
      'stats:read',
    ],
  },
  {
    name: 'case_worker',
    description: 'Works on the cases they participate in',
    permissions: [
      'cases:read',
      'cases:write',
      'audio:read',
      'audio:upload',
      'audio:archive',
      'transcriptions:read',
      'analysis:read',
      'conversations:*',
    ],
  },
  {
    name: 'processor',
    description:
      'Machine client of speech and analysis engines; sees all cases, changes no case data',
    permissions: [
      'cases:all',
      'audio:read',
      'transcriptions:read',
      'transcriptions:write',
      'analysis:read',
      'analysis:write',
      'conversations:read',
      'conversations:ingest',
    ],
  },
  {
    name: 'auditor',
    description: 'Read-only on every case; audit and statistics',
    permissions: [
      'audit:read',
      'stats:read',
      'cases:all',
      'cases:read',
      'audio:read',
      'transcriptions:read',
      'analysis:read',
      'conversations:read',
    ],
  },
];

export const ADMIN_ROLE = 'admin';
