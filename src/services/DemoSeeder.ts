// First start on an empty embedded database: a product and a sale opening two minutes later, so a
// newcomer sees a countdown at once.
import type { CatalogService } from './CatalogService';

export class DemoSeeder {
  constructor(private readonly catalog: CatalogService) {}

  /** Returns the id of the demo sale it created, or null when the shop already had products. */
  async seedIfEmpty(now = Date.now()): Promise<number | null> {
    if ((await this.catalog.listProducts()).length > 0) return null;
    const productId = await this.catalog.createProduct({
      name: 'Aurora X1 phone',
      description: '6.1-inch OLED, 128 GB, all-day battery. Limited launch stock at the flash-sale price.',
      image: '/img/phone.svg',
      priceCents: 69900,
    });
    const startsAt = new Date(Math.ceil((now + 120_000) / 1000) * 1000);
    return this.catalog.createSale({
      productId,
      stock: 100,
      priceCents: 19900,
      startsAt,
      endsAt: new Date(startsAt.getTime() + 3600_000),
    });
  }
}
