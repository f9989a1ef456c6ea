// The signed-in reviewer: a bearer token and the identity the API reads from it. Kept in
// sessionStorage (this tab only, gone when it closes).
import { request } from './api';
import type { Me } from './types';

/** A signed-in reviewer. */
export interface Session {
  token: string;
  actor: Me;
}

const STORAGE_KEY = 'modelgate.session';

/** The session of this tab, if any. */
export function loadSession(): Session | undefined {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as Session | null;
    return stored && typeof stored.token === 'string' && stored.actor ? stored : undefined;
  } catch {
    return undefined;
  }
}

/** Verifies the token with the API (`GET /v1/me`) and keeps it; rejects with the API's reason. */
export async function signIn(token: string): Promise<Session> {
  const trimmed = token.trim().replace(/^Bearer\s+/i, '');
  const actor = await request<Me>('/v1/me', { token: trimmed });
  const session = { token: trimmed, actor };
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  return session;
}

/** Forgets the session of this tab. */
export function signOut(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}
