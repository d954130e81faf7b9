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
