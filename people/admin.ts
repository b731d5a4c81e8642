import type { Pool, PoolClient } from 'pg';
import { atomically } from '../db/pool';
import { writeCredentials } from './credentials';
import { ADMINS, addPerson, enablePerson, findPerson, issueToken, setGroups } from './directory';

const ADMIN_ID = 'admin';
/** The bootstrap is the factory's own doing; nobody verified is calling yet. */
const SYSTEM_ACTOR = 'factory';
// Any constant works; it only has to be the same for every process that bootstraps this directory.
const BOOTSTRAP_LOCK = 7_233_005;

/**
 * Makes sure someone can manage the directory: when no enabled person is in
 * group admins, person "admin" is created (or re-enabled and put back in the
 * group), gets a new token, and the token is written to `file` for whoever
 * runs the factory. The file is written before the transaction commits, so an
 * admin never exists whose token was lost.
 */
export async function ensureAdmin(db: Pool | PoolClient, file: string): Promise<{ created: boolean; file: string }> {
  return atomically(db, async (tx) => {
    // Two `factory up`s starting together bootstrap one admin, not two tokens with one overwritten.
    await tx.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK]);
    const admins = await tx.query(
      'SELECT 1 FROM people p JOIN person_groups g ON g.person_id = p.id WHERE g.group_name = $1 AND p.disabled_at IS NULL LIMIT 1',
      [ADMINS],
    );
    if (admins.rowCount) return { created: false, file };
    const existing = await findPerson(tx, ADMIN_ID);
    if (!existing) await addPerson(tx, { id: ADMIN_ID, displayName: 'Factory admin', groups: [ADMINS] }, SYSTEM_ACTOR);
    else {
      await enablePerson(tx, ADMIN_ID, SYSTEM_ACTOR);
      await setGroups(tx, ADMIN_ID, [...existing.groups, ADMINS], SYSTEM_ACTOR);
    }
    writeCredentials(file, await issueToken(tx, ADMIN_ID, SYSTEM_ACTOR));
    return { created: true, file };
  });
}
