/** The PostgreSQL NOTIFY channel on which promotion tells serving replicas about a new champion. */
export const CHAMPION_CHANNEL = 'factory_champion';
