// Console sign-in sessions: a random id in an HttpOnly, SameSite=Strict
// cookie, a CSRF token per session (every action must echo it in a header),
// and who signed in (for the audit log). Bounded (the oldest is dropped
// first) and expired on every tick.

import type http from 'node:http';
import { randomBytes } from 'node:crypto';
import { sameSecret } from '../shared/commands-auth.js';
import { ExpiringMap } from '../shared/expiring-map.js';

export const SESSION_COOKIE = 'coordinator_session';
const COOKIE_PATTERN = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([A-Za-z0-9_-]{1,64})(?:;|$)`);

export interface ConsoleSession {
  readonly id: string;
  readonly csrf: string;
  /** Who signed in: the Basic user, or the kind of credential. */
  readonly actor: string;
  readonly ip: string;
}

export class SessionStore {
  private readonly sessions: ExpiringMap<ConsoleSession>;

  constructor(private readonly ttlMs: number, max: number) {
    this.sessions = new ExpiringMap(ttlMs, max);
  }

  get size(): number {
    return this.sessions.size;
  }

  private idOf(req: http.IncomingMessage): string | undefined {
    return COOKIE_PATTERN.exec(req.headers.cookie ?? '')?.[1];
  }

  /** The live session the request's cookie names, if any. */
  of(req: http.IncomingMessage): ConsoleSession | undefined {
    const id = this.idOf(req);
    return id ? this.sessions.get(id, Date.now()) : undefined;
  }

  /** A new session; sets its cookie on `res`. */
  create(req: http.IncomingMessage, res: http.ServerResponse, actor: string): ConsoleSession {
    const session: ConsoleSession = {
      id: randomBytes(24).toString('base64url'),
      csrf: randomBytes(24).toString('base64url'),
      actor,
      ip: req.socket.remoteAddress ?? '',
    };
    this.sessions.set(session.id, session, Date.now());
    res.setHeader('set-cookie', `${SESSION_COOKIE}=${session.id}; ${cookieAttributes(req)}; Max-Age=${Math.floor(this.ttlMs / 1000)}`);
    return session;
  }

  /** Sign-out: the session ends now; returns the cookie that clears it. */
  end(req: http.IncomingMessage): string {
    const id = this.idOf(req);
    if (id) this.sessions.delete(id);
    return `${SESSION_COOKIE}=; ${cookieAttributes(req)}; Max-Age=0`;
  }

  /** The CSRF token a state-changing request carries must be its session's. */
  checkCsrf(session: ConsoleSession, token: string | undefined): boolean {
    return token !== undefined && sameSecret(token, session.csrf);
  }

  prune(): void {
    this.sessions.prune(Date.now());
  }
}

function cookieAttributes(req: http.IncomingMessage): string {
  const secure = (req.socket as { encrypted?: boolean }).encrypted ? '; Secure' : '';
  return `HttpOnly; SameSite=Strict; Path=/dashboard${secure}`;
}
