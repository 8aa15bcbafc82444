/** Audit actions of the analysis module. */
export const ANALYSIS_ACTIVITY_TYPES = {
  'analysis.create': 'Analysis result version posted',
} as const;
