/** Activity and child failures wrap the error that says what went wrong; that is the one worth recording. */
export const causeOf = (err: unknown): string => (err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err));
