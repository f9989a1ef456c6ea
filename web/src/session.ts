// The signed-in reviewer: a bearer token and the identity the API reads from it. Kept in
// sessionStorage (this tab only, gone when it closes).
import { request, whenTokenRefused } from './api';
import { endSignIn, providerSettings, renew } from './oidc';
import type { Me } from './types';

/** A signed-in reviewer. */
export interface Session {
  /** The bearer token; a provider sign-in renews it in place. */
  token: string;
  actor: Me;
  /** The person's name (from the provider's ID token). */
  name?: string;
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

let active: Session | undefined;

/** Makes a provider sign-in the session whose token renewals update in place (tokens in memory only). */
export function activate(session: Session): Session {
  active = session;
  return session;
}

/** Puts a renewed token in the active session. */
export function renewedToken(token: string): void {
  if (active) active.token = token;
}

// A token the API refuses (expired while the laptop slept) is renewed once, and the request sent again.
whenTokenRefused(async () => {
  const settings = providerSettings();
  return settings ? renew(settings, renewedToken) : undefined;
});

/**
 * Forgets the session of this tab; a provider sign-in is also ended there (`atProvider`: the
 * browser goes to the provider's sign-out page; resolves `true` then).
 */
export async function signOut(atProvider = false): Promise<boolean> {
  sessionStorage.removeItem(STORAGE_KEY);
  active = undefined;
  return endSignIn(atProvider);
}
