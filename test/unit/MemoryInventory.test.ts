// MemoryInventory: a sale's remaining stock and its buyers, in memory.
import { MemoryInventory } from '../../src/services/SaleBook';

const SALE = 7;

describe('MemoryInventory', () => {
  it('when a sale was never loaded, then it has nothing left, is sold out and refuses a reservation', () => {
    const inv = new MemoryInventory();

    expect(inv.remaining(SALE)).toBe(0);
    expect(inv.isSoldOut(SALE)).toBe(true);
    expect(inv.tryReserve(SALE, 1)).toBe('sold_out');
  });

  it('when a shopper reserves, then one unit goes and the shopper is a buyer', () => {
    const inv = new MemoryInventory();
    inv.load(SALE, 3, []);

    const result = inv.tryReserve(SALE, 1);

    expect(result).toBe('reserved');
    expect(inv.remaining(SALE)).toBe(2);
    expect(inv.hasBought(SALE, 1)).toBe(true);
    expect(inv.hasBought(SALE, 2)).toBe(false);
  });

  it('when a buyer tries again, then it is refused as already bought and the stock is untouched', () => {
    const inv = new MemoryInventory();
    inv.load(SALE, 3, []);
    inv.tryReserve(SALE, 1);

    expect(inv.tryReserve(SALE, 1)).toBe('already_bought');
    expect(inv.remaining(SALE)).toBe(2);
  });

  it('when the last unit is taken, then the sale is sold out and the next shopper is refused', () => {
    const inv = new MemoryInventory();
    inv.load(SALE, 1, []);

    expect(inv.tryReserve(SALE, 1)).toBe('reserved');
    expect(inv.isSoldOut(SALE)).toBe(true);
    expect(inv.tryReserve(SALE, 2)).toBe('sold_out');
  });

  it('when loaded with earlier buyers, then they count as having bought', () => {
    const inv = new MemoryInventory();

    inv.load(SALE, 5, [11, 12]);

    expect(inv.hasBought(SALE, 11)).toBe(true);
    expect(inv.tryReserve(SALE, 12)).toBe('already_bought');
    expect(inv.remaining(SALE)).toBe(5);
  });

  it('when loaded with a negative remaining, then it holds 0', () => {
    const inv = new MemoryInventory();

    inv.load(SALE, -2, []);

    expect(inv.remaining(SALE)).toBe(0);
    expect(inv.isSoldOut(SALE)).toBe(true);
  });

  it('when a reservation is released, then the unit comes back and the shopper may buy again', () => {
    const inv = new MemoryInventory();
    inv.load(SALE, 1, []);
    inv.tryReserve(SALE, 1);

    inv.release(SALE, 1);

    expect(inv.remaining(SALE)).toBe(1);
    expect(inv.hasBought(SALE, 1)).toBe(false);
    expect(inv.tryReserve(SALE, 1)).toBe('reserved');
  });

  it('when a shopper who holds nothing is released, or released twice, then the stock does not grow', () => {
    const inv = new MemoryInventory();
    inv.load(SALE, 2, []);
    inv.tryReserve(SALE, 1);

    inv.release(SALE, 99);
    inv.release(SALE, 1);
    inv.release(SALE, 1);
    inv.release(SALE + 1, 1);

    expect(inv.remaining(SALE)).toBe(2);
  });

  it('when a sale is forgotten, then it reads as sold out, and other sales are untouched', () => {
    const inv = new MemoryInventory();
    inv.load(SALE, 3, [1]);
    inv.load(SALE + 1, 4, []);

    inv.forget(SALE);

    expect(inv.isSoldOut(SALE)).toBe(true);
    expect(inv.hasBought(SALE, 1)).toBe(false);
    expect(inv.remaining(SALE + 1)).toBe(4);
  });

  it('when loaded again, then the new figures replace the old', () => {
    const inv = new MemoryInventory();
    inv.load(SALE, 3, [1]);

    inv.load(SALE, 10, [2]);

    expect(inv.remaining(SALE)).toBe(10);
    expect(inv.hasBought(SALE, 1)).toBe(false);
    expect(inv.hasBought(SALE, 2)).toBe(true);
  });
});
