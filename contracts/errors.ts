/** The failure type of an artifact whose bytes do not hash to its reference (storage/artifacts.ts): retrying reads the same bytes. */
export const INTEGRITY_ERROR = 'IntegrityError';
