// Every URL and the controller method that answers it, top to bottom. The purchase itself
// (POST /api/sales/:id/buy/:path) is served before Express; see PurchaseController. GET /metrics is routed in
// app.ts, before the page bucket.
import { Router } from 'express';
import type { Container } from './container';
import { requireAdmin, requireLogin } from './middleware/auth';
import { ipLimit } from './middleware/rateLimits';

/**
 * Pages that are the same for every visitor, served before the session and CSRF middleware so that they
 * carry no cookie and can be cached: the sale page's per-shopper part comes from GET /api/sales/:id.
 */
export function publicRoutes(c: Container): Router {
  const r = Router();
  r.get('/sales/:id', c.controllers.sales.show);
  return r;
}

export function routes(c: Container): Router {
  const { users, sales, orders, admin, health, live } = c.controllers;
  const window = c.config.purchase.ipWindowMs;
  const r = Router();

  r.get('/healthz', health.health);
  r.get('/api/time', sales.time);

  r.get('/', sales.index);
  r.get('/api/sales/:id', sales.state);
  r.get('/api/sales/:id/path', requireLogin, sales.path);
  r.post('/api/sales/:id/captcha', requireLogin, ipLimit(c.config.purchase.ipLimit, window), sales.captcha);
  r.post('/api/sales/:id/ticket', requireLogin, ipLimit(c.config.purchase.ipLimit, window), sales.ticket);

  r.get('/user/register', users.registerForm);
  r.post('/user/register', ipLimit(20, 600_000), users.register);
  r.get('/user/login', users.loginForm);
  r.post('/user/login', users.login);
  r.post('/user/logout', users.logout);
  r.get('/user/account', requireLogin, users.account);
  r.post('/user/password', requireLogin, users.changePassword);
  r.post('/user/delete', requireLogin, users.deleteAccount);

  r.get('/orders', requireLogin, orders.mine);
  r.get('/api/orders/:requestId', requireLogin, orders.status);

  r.use('/admin', requireAdmin);
  r.get('/admin', admin.dashboard);
  r.get('/admin/products', admin.products);
  r.get('/admin/products/new', admin.newProduct);
  r.post('/admin/products', admin.createProduct);
  r.get('/admin/products/:id/edit', admin.editProduct);
  r.post('/admin/products/:id', admin.updateProduct);
  r.get('/admin/products/:id/delete', admin.confirmDeleteProduct);
  r.post('/admin/products/:id/delete', admin.deleteProduct);
  r.get('/admin/sales', admin.sales);
  r.get('/admin/sales/new', admin.newSale);
  r.post('/admin/sales', admin.createSale);
  r.get('/admin/sales/:id/edit', admin.editSale);
  r.post('/admin/sales/:id', admin.updateSale);
  r.get('/admin/sales/:id/delete', admin.confirmDeleteSale);
  r.post('/admin/sales/:id/delete', admin.deleteSale);
  r.get('/admin/sales/:id/orders', admin.saleOrders);
  r.get('/admin/sales/:id/draw', admin.saleDraw);
  r.get('/admin/sales/:id/orders.csv', admin.saleOrdersCsv);
  r.get('/admin/sales/:id/live', live.page);
  r.get('/admin/sales/:id/live/events', live.events);
  r.get('/admin/blacklist', admin.blacklistPage);
  r.post('/admin/blacklist', admin.addToBlacklist);
  r.post('/admin/blacklist/:id/delete', admin.removeFromBlacklist);

  return r;
}
