/** Most threads one GBDT training may use (the spec's gbdt.threads, ml/gbdt/team.ts): each has a slot in the task block (ml/gbdt/share.ts). */
export const MAX_THREADS = 16;
