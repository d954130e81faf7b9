// Builds the HTTP request handler: the lean purchase route first, Express for everything else. Never listens.
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import cookieParser from 'cookie-parser';
import express from 'express';
import helmet from 'helmet';
import type { Container } from './container';
import { loadSession } from './middleware/auth';
import { csrfProtection } from './middleware/csrf';
import { withLayout } from './middleware/layout';
import { errorHandler, notFound } from './middleware/errorHandler';
import { pageBucket } from './middleware/rateLimits';
import { requestLogger } from './middleware/requestLogger';
import { originCheck } from './lib/originCheck';
import { TokenBucket } from './lib/TokenBucket';
import { utcTime } from './lib/utcTime';
import { publicRoutes, routes } from './routes';

const ROOT = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export function createExpressApp(c: Container): express.Express {
  const app = express();
  app.set('trust proxy', c.config.trustProxy);
  app.set('view engine', 'ejs');
  app.set('views', path.join(ROOT, 'views'));
  app.set('view cache', c.config.env !== 'development');
  app.disable('x-powered-by');
  // The sale page fetches its challenge sealed during this last part of the countdown (see ChallengeSeal).
  app.locals.sealLeadMs = c.config.captcha.sealLeadMs;
  // Every page shows moments one way: UTC, with the zone written out.
  app.locals.utc = utcTime;

  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: { 'img-src': ["'self'", 'data:'], 'upgrade-insecure-requests': null },
      },
      // In production only, and configurable: a development shop on http://localhost must not pin https.
      strictTransportSecurity: c.config.hstsMaxAge > 0 ? { maxAge: c.config.hstsMaxAge } : false,
      // no-referrer makes Chromium send "Origin: null" on same-origin POSTs, which the CSRF check refuses.
      referrerPolicy: { policy: 'same-origin' },
    }),
  );
  app.use(requestLogger(c.log));
  // Before the page bucket: a scrape during the opening's burst must still be answered.
  app.get('/metrics', c.controllers.metrics.scrape);
  app.use(withLayout);
  app.use(express.static(path.join(ROOT, 'public'), { maxAge: '1h', index: false, dotfiles: 'deny' }));
  app.use('/vendor/altcha', altchaSolver());
  app.use(pageBucket(new TokenBucket(c.config.pages.bucketPerSecond, c.config.pages.bucketCapacity)));
  app.use((req, res, next) => {
    res.locals.path = req.path;
    res.locals.title = 'Flash sale';
    res.locals.currentUser = null;
    next();
  });
  app.use(publicRoutes(c));
  app.use(cookieParser());
  app.use(express.urlencoded({ extended: false, limit: '16kb' }));
  app.use(express.json({ limit: '16kb' }));
  app.use(loadSession(c.services.accounts, c.config.cookies.session));
  app.use(c.shardCookie.keep);
  app.use(csrfProtection(c.config.cookies, originCheck({ secure: c.config.cookies.secure, trustProxy: c.config.trustProxy })));
  app.use(routes(c));
  app.use(notFound);
  app.use(errorHandler(c.log));
  return app;
}

/**
 * The browser half of the proof-of-work: altcha-lib's own solver, served as the ES modules it ships (they
 * use only Web Crypto), so the page's script solves what the server's half checks. Only these files.
 */
function altchaSolver(): express.RequestHandler {
  const dir = path.join(path.dirname(require.resolve('altcha-lib')), '../../esm/v2');
  const files = new Set(['/pow.js', '/helpers.js', '/types.js', '/algorithms/web/sha.js']);
  const serve = express.static(dir, { maxAge: '1h', index: false });
  return (req, res, next) => (files.has(req.path) ? serve(req, res, next) : next());
}

/** The request handler for node:http (or supertest): purchases take the lean path, the rest goes to Express. */
export function createApp(c: Container): RequestHandler {
  const app = createExpressApp(c);
  const purchase = c.controllers.purchase.tryHandle;
  return (req, res) => {
    if (!purchase(req, res)) app(req, res);
  };
}
