// Shopper and admin accounts: registration, password check, and the login cookie that replaces a session.
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { ConflictError, ValidationError } from '../errors';
import type { CookieCipher } from '../lib/CookieCipher';
import type { Role } from '../models';
import { isUniqueViolation } from '../repositories/driverErrors';
import { UserRecord, UserRepository } from '../repositories/UserRepository';
import type { SessionGenerations } from './SessionGenerations';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: object) => Promise<Buffer>;
const SCRYPT = { N: 16384, r: 8, p: 1 };

export interface PublicUser {
  id: number;
  userName: string;
  nickName: string;
  role: Role;
}

/** Sessions already opened, so a shopper's repeated requests skip the AES-GCM open. */
const SESSION_CACHE_LIMIT = 200_000;
/** How long a page may see a user's name and role after a change (an admin's role, a removed account). */
const PAGE_USER_TTL_MS = 5_000;

export class AccountService {
  private readonly opened = new Map<string, { userId: number; generation: number; expiresAt: number }>();
  /**
   * Users as the pages see them, for a few seconds: a crowd polling the sale state and its orders would
   * otherwise read the users table once a request.
   */
  private readonly pageUsers = new Map<number, { user: PublicUser | null; until: number }>();

  constructor(
    private readonly users: UserRepository,
    private readonly cipher: CookieCipher,
    private readonly sessionTtlMs: number,
    private readonly generations: SessionGenerations,
  ) {}

  async register(userName: string, nickName: string, password: string, role: Role = 'shopper'): Promise<PublicUser> {
    if (await this.users.findByUserName(userName)) {
      throw new ConflictError('USER_NAME_TAKEN', 'This user name is taken.', { fields: { userName: 'is taken' } });
    }
    const passwordHash = await hashPassword(password);
    try {
      const id = await this.users.create({ userName, nickName, passwordHash, role });
      return { id, userName, nickName, role };
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new ConflictError('USER_NAME_TAKEN', 'This user name is taken.', { fields: { userName: 'is taken' } });
      }
      throw err;
    }
  }

  /** null for an unknown user or a wrong password: the caller cannot tell which. */
  async authenticate(userName: string, password: string): Promise<PublicUser | null> {
    const user = await this.users.findByUserName(userName);
    if (!user) {
      await hashPassword(password); // same work either way, so timing does not reveal user names
      return null;
    }
    return (await verifyPassword(password, user.passwordHash)) ? toPublic(user) : null;
  }

  async findUser(id: number): Promise<PublicUser | null> {
    const user = await this.users.findById(id);
    return user ? toPublic(user) : null;
  }

  /** findUser for the pages' session, answered from memory for `PAGE_USER_TTL_MS` after a read. */
  async pageUser(id: number, now = Date.now()): Promise<PublicUser | null> {
    const known = this.pageUsers.get(id);
    if (known && known.until > now) return known.user;
    const user = await this.findUser(id);
    if (this.pageUsers.size >= SESSION_CACHE_LIMIT) this.pageUsers.clear();
    this.pageUsers.set(id, { user, until: now + PAGE_USER_TTL_MS });
    return user;
  }

  async findByUserName(userName: string): Promise<PublicUser | null> {
    const user = await this.users.findByUserName(userName);
    return user ? toPublic(user) : null;
  }

  /** Creates the configured admin, or makes sure the account has the admin role and that password. */
  async ensureAdmin(userName: string, password: string): Promise<void> {
    const existing = await this.users.findByUserName(userName);
    if (!existing) {
      await this.register(userName, 'Admin', password, 'admin');
      return;
    }
    this.pageUsers.delete(existing.id);
    if (existing.role !== 'admin') await this.users.setRole(existing.id, 'admin');
    if (!(await verifyPassword(password, existing.passwordHash))) {
      await this.users.setPasswordHash(existing.id, await hashPassword(password));
    }
  }

  /** A login cookie for the shopper, of their current session generation. */
  issueSession(userId: number, now = Date.now()): string {
    return this.cipher.seal({ userId, generation: this.generations.floor(userId), issuedAt: now, expiresAt: now + this.sessionTtlMs });
  }

  /**
   * The user id in a login cookie, or null when it is missing, tampered with, foreign, expired or revoked.
   * Memory only: the purchase path calls it on every request.
   */
  userIdFromSession(token: string | undefined, now = Date.now()): number | null {
    if (!token) return null;
    const known = this.opened.get(token);
    if (known) {
      if (known.expiresAt > now && known.generation >= this.generations.floor(known.userId)) return known.userId;
      this.opened.delete(token);
      return null;
    }
    const payload = this.cipher.open(token, now);
    if (!payload || payload.generation < this.generations.floor(payload.userId)) return null;
    if (this.opened.size >= SESSION_CACHE_LIMIT) this.opened.clear();
    this.opened.set(token, { userId: payload.userId, generation: payload.generation, expiresAt: payload.expiresAt });
    return payload.userId;
  }

  /** Ends every login of the user, on every route, at once (logout, and after a block by an admin). */
  async revokeSessions(userId: number): Promise<void> {
    await this.generations.revoke(userId);
    this.pageUsers.delete(userId);
  }

  /**
   * Changes the password after checking the current one; every other login of the user ends. Returns a
   * login cookie of the new generation for the browser that asked.
   */
  async changePassword(userId: number, currentPassword: string, newPassword: string): Promise<string> {
    await this.checkPassword(userId, currentPassword, 'currentPassword');
    await this.users.setPasswordHash(userId, await hashPassword(newPassword));
    await this.revokeSessions(userId);
    return this.issueSession(userId);
  }

  /** Deletes the account after checking its password: its logins end and its name is free again. */
  async deleteAccount(userId: number, password: string): Promise<void> {
    await this.checkPassword(userId, password, 'password');
    await this.users.markDeleted(userId, new Date());
    await this.revokeSessions(userId);
  }

  private async checkPassword(userId: number, password: string, field: string): Promise<void> {
    const user = await this.users.findById(userId);
    if (!user || !(await verifyPassword(password, user.passwordHash))) {
      throw new ValidationError({ [field]: 'is not right' });
    }
  }
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, { N: +n, r: +r, p: +p });
  return timingSafeEqual(actual, expected);
}

function toPublic(u: UserRecord): PublicUser {
  return { id: u.id, userName: u.userName, nickName: u.nickName, role: u.role };
}
