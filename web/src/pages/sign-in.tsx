// Sign in: with the organisation's identity provider (OpenID Connect, when the API names one),
// paste a bearer token, or (local development, when the API offers it) pick a dev user.
import { useEffect, useState } from 'preact/hooks';
import { ApiRequestError, request } from '../api';
import { ErrorMessage } from '../components';
import { finishSignIn, isProviderAnswer, type OidcSettings, startSignIn, wasSignedIn } from '../oidc';
import { activate, type Session, signIn, renewedToken } from '../session';
import type { DevUserList } from '../types';

export function SignInPage({ onSignedIn, notice }: { onSignedIn: (session: Session) => void; notice?: string }) {
  const [devUsers, setDevUsers] = useState<DevUserList['users'] | undefined>(undefined);
  const [token, setToken] = useState('');
  const [error, setError] = useState<Error | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [oidc, setOidc] = useState<OidcSettings | undefined>(undefined);
  const [signedOut, setSignedOut] = useState(false);

  useEffect(() => {
    request<{ devSignIn: boolean; oidc?: OidcSettings }>('config.json')
      .then((config) => {
        const provider = config.oidc?.dashboardClientId ? config.oidc : undefined;
        setOidc(provider);
        if (provider) void withProvider(provider);
        return config.devSignIn ? request<DevUserList>('dev-users') : undefined;
      })
      .then((list) => setDevUsers(list?.users))
      .catch(() => setDevUsers(undefined));
  }, []);

  /** The provider's answer to a sign-in (or sign-out) started here; after a reload, a silent sign-in. */
  const withProvider = async (provider: OidcSettings) => {
    setBusy(true);
    try {
      if (isProviderAnswer()) {
        const answer = await finishSignIn(provider, renewedToken);
        if (answer === 'signed-out') setSignedOut(true);
        else if (answer) onSignedIn(activate(answer));
      } else if (wasSignedIn()) {
        await startSignIn(provider, true);
        return;
      }
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    }
    setBusy(false);
  };

  const signInWithProvider = async (provider: OidcSettings) => {
    setBusy(true);
    setError(undefined);
    try {
      await startSignIn(provider);
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
      setBusy(false);
    }
  };

  const attempt = async (obtainToken: () => Promise<string>) => {
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await signIn(await obtainToken()));
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      setBusy(false);
    }
  };

  const submitToken = (event: Event) => {
    event.preventDefault();
    if (!token.trim()) {
      setError(new ApiRequestError(400, 'invalid_input', 'paste a bearer token (a JWT) first'));
      return;
    }
    void attempt(async () => token);
  };

  return (
    <main id="main" class="sign-in" tabIndex={-1}>
      <h1>Sign in to the Modelgate dashboard</h1>
      {(notice || signedOut) && (
        <p class="notice" role="status">
          {signedOut ? 'Signed out.' : notice}
        </p>
      )}
      {error && <ErrorMessage error={error} prefix="Not signed in" />}
      {oidc && (
        <section aria-labelledby="provider-title" class="panel">
          <h2 id="provider-title">Sign in with your organisation’s account</h2>
          <p class="muted">You sign in at {new URL(oidc.issuer).host}; your roles come from your groups there.</p>
          <button type="button" class="primary" disabled={busy} onClick={() => void signInWithProvider(oidc)}>
            Sign in with single sign-on
          </button>
        </section>
      )}
      {devUsers && (
        <section aria-labelledby="dev-users-title" class="panel">
          <h2 id="dev-users-title">Local dev users</h2>
          <p class="muted">This API runs in local development mode (DASHBOARD_DEV_SIGN_IN): pick a user to get a token with their roles.</p>
          <ul class="dev-users">
            {devUsers.map((user) => (
              <li key={user.id}>
                <button
                  type="button"
                  data-dev-user={user.id}
                  disabled={busy}
                  onClick={() =>
                    void attempt(async () => (await request<{ token: string }>('dev-sign-in', { method: 'POST', body: { user: user.id } })).token)
                  }
                >
                  <strong>{user.id}</strong> <span class="roles">{user.roles.join(', ')}</span>
                </button>
                <span class="muted"> {user.description}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
      <section aria-labelledby="token-title" class="panel">
        <h2 id="token-title">Sign in with a token</h2>
        <form onSubmit={submitToken}>
          <label for="token">Bearer token (JWT) issued for you</label>
          <textarea
            id="token"
            name="token"
            rows={4}
            spellcheck={false}
            autocomplete="off"
            value={token}
            onInput={(e) => setToken((e.target as HTMLTextAreaElement).value)}
          />
          <p class="hint muted">
            Locally: <code>npx modelgate dev-token --user alice --roles ml-reviewer</code>. The token stays in this tab only.
          </p>
          <button type="submit" class="primary" disabled={busy}>
            Sign in
          </button>
        </form>
      </section>
    </main>
  );
}
