/** Audit actions of the exports module (signed case exports, SPEC section 13). */
export const EXPORTS_ACTIVITY_TYPES = {
  'case.export': 'Signed export of a case requested',
  'export.complete': 'Signed case export bundle built and stored',
  'export.fail': 'Signed case export failed',
  'export.download': 'Signed case export bundle downloaded',
  'export.expire': 'Expired case export bundle removed from storage',
} as const;
