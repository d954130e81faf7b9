// Every migration, in order. Listed by hand: file globs break once compiled to dist/.
import { Init1763769600000 } from './1763769600000-Init';

export const migrations = [Init1763769600000];
