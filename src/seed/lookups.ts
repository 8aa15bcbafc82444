import { AUTH_ACTIVITY_TYPES } from '../auth/auth.activity-types';

/**
 * Every audit action, gathered from the modules that own them. A module adding an
 * action adds it to its own catalogue and lists the catalogue here.
 */
export const ACTIVITY_TYPES: Record<string, string> = {
  ...AUTH_ACTIVITY_TYPES,
};
