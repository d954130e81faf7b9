// One error type for everything the app refuses on purpose: an HTTP status and a stable code.
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export class ValidationError extends AppError {
  constructor(readonly fields: Record<string, string>) {
    const first = Object.entries(fields)[0];
    super(400, 'INVALID_INPUT', first ? `${first[0]}: ${first[1]}` : 'Invalid input', { fields });
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'Please log in first.') {
    super(401, 'NOT_LOGGED_IN', message);
  }
}

export class ForbiddenError extends AppError {
  constructor(code = 'FORBIDDEN', message = 'You are not allowed to do that.') {
    super(403, code, message);
  }
}

export class NotFoundError extends AppError {
  constructor(what = 'Page') {
    super(404, 'NOT_FOUND', `${what} not found.`);
  }
}

export class ConflictError extends AppError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(409, code, message, details);
  }
}

export class TooManyRequestsError extends AppError {
  constructor(code: string, message: string, retryAfterSeconds: number) {
    super(429, code, message, undefined, Math.max(1, Math.ceil(retryAfterSeconds)));
  }
}

export class UnavailableError extends AppError {
  constructor(code: string, message: string, retryAfterSeconds = 1) {
    super(503, code, message, undefined, retryAfterSeconds);
  }
}

/** A refusal the app gives on purpose, as data: the purchase route answers it without building an error. */
export interface Refusal {
  readonly ok: false;
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly retryAfterSeconds?: number;
  readonly requestId?: string;
}

function refusal(status: number, code: string, message: string, retryAfterSeconds?: number): Refusal {
  return Object.freeze({ ok: false as const, status, code, message, retryAfterSeconds });
}

/**
 * Every refusal of the purchase funnel and of the pages around it, with its stable code: the one table of
 * codes and messages. Built once, so refusing allocates nothing.
 */
export const REFUSALS = {
  STARTING: refusal(503, 'STARTING', 'The shop is starting; try again in a moment.', 1),
  STOPPING: refusal(503, 'STOPPING', 'The shop is restarting; try again in a moment.', 2),
  OVERLOADED: refusal(503, 'OVERLOADED', 'Too many shoppers right now; try again in a moment.', 1),
  BUSY: refusal(503, 'BUSY', 'Too many shoppers right now; try again in a moment.', 1),
  IP_RATE_LIMITED: refusal(429, 'IP_RATE_LIMITED', 'Too many requests from your network; slow down.', 10),
  CROSS_SITE: refusal(403, 'CROSS_SITE', 'Cross-site requests are refused.'),
  NOT_LOGGED_IN: refusal(401, 'NOT_LOGGED_IN', 'Please log in first.'),
  SALE_NOT_FOUND: refusal(404, 'SALE_NOT_FOUND', 'There is no such sale.'),
  NOT_STARTED: refusal(403, 'NOT_STARTED', 'The sale has not started yet.'),
  SALE_ENDED: refusal(410, 'SALE_ENDED', 'The sale has ended.'),
  BLOCKED: refusal(403, 'BLOCKED', 'Your account or network is blocked from this sale.'),
  TOO_FAST: refusal(429, 'TOO_FAST', 'One try every few seconds, please.', 10),
  IN_FLIGHT: refusal(429, 'IN_FLIGHT', 'Your previous request is still being handled.', 1),
  SOLD_OUT: refusal(410, 'SOLD_OUT', 'Sold out.'),
  PATH_INVALID: refusal(404, 'PATH_INVALID', 'This purchase link is not valid.'),
  CAPTCHA_BUSY: refusal(503, 'CAPTCHA_BUSY', 'Pictures are being drawn for the crowd; try again in a moment.', 1),
  CAPTCHA_WRONG: refusal(400, 'CAPTCHA_WRONG', 'That is not what the picture says; try again.'),
  CAPTCHA_EXPIRED: refusal(400, 'CAPTCHA_EXPIRED', 'This captcha has expired; here is a new one.'),
  CAPTCHA_RATE_LIMITED: refusal(429, 'CAPTCHA_RATE_LIMITED', 'Too many new pictures; answer the one you have or wait a little.', 10),
  CAPTCHA_EARLY: refusal(425, 'CAPTCHA_EARLY', 'The check without a picture is not over yet; wait a few seconds.', 1),
  TICKET_INVALID: refusal(403, 'TICKET_INVALID', 'Solve the captcha again before buying.'),
  TICKET_USED: refusal(403, 'TICKET_USED', 'This captcha was already used; solve a new one.'),
  TICKET_EXPIRED: refusal(403, 'TICKET_EXPIRED', 'The captcha has expired; solve a new one.'),
  ALREADY_BOUGHT: refusal(409, 'ALREADY_BOUGHT', 'You have already bought in this sale.'),
  RESTOCKING: refusal(503, 'RESTOCKING', 'This server is fetching more stock; try again in a moment.', 1),
  ALREADY_ENTERED: refusal(409, 'ALREADY_ENTERED', 'You are already in the draw: one entry per shopper. Results at the end of the window.'),
  DRAW_RUNNING: refusal(503, 'DRAW_RUNNING', 'The draw is running; what is left sells first come in a moment.', 2),
  ENTRY_UNAVAILABLE: refusal(503, 'ENTRY_UNAVAILABLE', 'We could not record your entry right now; try again.', 2),
  QUEUE_UNAVAILABLE: refusal(503, 'QUEUE_UNAVAILABLE', 'We could not take your order right now; try again.', 2),
  BAD_CREDENTIALS: refusal(401, 'BAD_CREDENTIALS', 'Wrong user name or password.'),
  TOO_MANY_LOGINS: refusal(429, 'TOO_MANY_LOGINS', 'Too many failed logins from your network; wait a little.'),
  TOO_MANY_LOGINS_ACCOUNT: refusal(429, 'TOO_MANY_LOGINS', 'Too many failed logins for this account from your network; wait a little.'),
  LOGIN_CHALLENGE: refusal(
    401,
    'LOGIN_CHALLENGE',
    'Many wrong passwords were tried on this account, so your browser does a short check first; enter your password again.',
  ),
  CHALLENGE_REQUIRED: refusal(400, 'CHALLENGE_REQUIRED', 'Your browser has not finished its short check yet (it needs JavaScript); send the form again.'),
  CHALLENGE_INVALID: refusal(400, 'CHALLENGE_INVALID', 'The browser check was not valid or has expired; send the form again.'),
} as const;

/** A refusal of the table above as an error, for the Express routes (the one error handler answers it). */
export function refused(r: Refusal, retryAfterSeconds = r.retryAfterSeconds): AppError {
  return new AppError(r.status, r.code, r.message, undefined, retryAfterSeconds);
}
