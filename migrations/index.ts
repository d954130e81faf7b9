// Every migration, in order. Listed by hand: file globs break once compiled to dist/.
import { Init1763769600000 } from './1763769600000-Init';
import { SessionGenerations1767225600000 } from './1767225600000-SessionGenerations';
import { StockLeases1768000000000 } from './1768000000000-StockLeases';
import { SaleDraws1769000000000 } from './1769000000000-SaleDraws';

export const migrations = [Init1763769600000, SessionGenerations1767225600000, StockLeases1768000000000, SaleDraws1769000000000];
