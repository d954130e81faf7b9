import { DataSource, Repository } from 'typeorm';
import { FlashSale, Product } from '../models';

export interface ProductRecord {
  id: number;
  name: string;
  description: string;
  image: string;
  priceCents: number;
}

export type ProductInput = Omit<ProductRecord, 'id'>;

export class ProductRepository {
  private readonly repo: Repository<Product>;
  private readonly sales: Repository<FlashSale>;

  constructor(dataSource: DataSource) {
    this.repo = dataSource.getRepository(Product);
    this.sales = dataSource.getRepository(FlashSale);
  }

  async list(): Promise<ProductRecord[]> {
    return (await this.repo.find({ order: { id: 'DESC' } })).map(toRecord);
  }

  async findById(id: number): Promise<ProductRecord | null> {
    const row = await this.repo.findOneBy({ id });
    return row ? toRecord(row) : null;
  }

  async create(input: ProductInput): Promise<number> {
    const result = await this.repo.insert({ ...input, createdAt: new Date() });
    return result.identifiers[0].id as number;
  }

  async update(id: number, input: ProductInput): Promise<boolean> {
    const result = await this.repo.update({ id }, input);
    return (result.affected ?? 0) > 0;
  }

  async delete(id: number): Promise<boolean> {
    const result = await this.repo.delete({ id });
    return (result.affected ?? 0) > 0;
  }

  async hasSales(id: number): Promise<boolean> {
    return (await this.sales.countBy({ productId: id })) > 0;
  }
}

function toRecord(p: Product): ProductRecord {
  return { id: p.id, name: p.name, description: p.description, image: p.image, priceCents: p.priceCents };
}
