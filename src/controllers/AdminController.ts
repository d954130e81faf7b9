import type { Request, Response } from 'express';
import { NotFoundError } from '../errors';
import type { BlacklistService } from '../services/BlacklistService';
import type { CatalogService } from '../services/CatalogService';
import type { OrderService } from '../services/OrderService';

const todo = (_req: Request, _res: Response): void => {
  throw new NotFoundError();
};

export class AdminController {
  constructor(
    readonly catalog: CatalogService,
    readonly orders: OrderService,
    readonly blacklist: BlacklistService,
  ) {}

  dashboard = todo;
  products = todo;
  newProduct = todo;
  createProduct = todo;
  editProduct = todo;
  updateProduct = todo;
  deleteProduct = todo;
  sales = todo;
  newSale = todo;
  createSale = todo;
  editSale = todo;
  updateSale = todo;
  deleteSale = todo;
  saleOrders = todo;
  blacklistPage = todo;
  addToBlacklist = todo;
  removeFromBlacklist = todo;
}
