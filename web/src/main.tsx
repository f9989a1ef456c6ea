// The reviewer dashboard: sign-in, my queue, all promotions, a promotion, governance.
import './styles.css';
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { request, whenUnauthenticated } from './api';
import { GovernancePage } from './pages/governance';
import { PromotionPage } from './pages/promotion';
import { PromotionsPage } from './pages/promotions';
import { QueuePage } from './pages/queue';
import { SignInPage } from './pages/sign-in';
import { parseRoute, type Route } from './routes';
import { loadSession, type Session, signOut } from './session';
import type { PolicyList } from './types';

const NAV: Array<{ page: Route['page']; href: string; label: string }> = [
  { page: 'queue', href: '#/queue', label: 'My queue' },
  { page: 'promotions', href: '#/promotions', label: 'All promotions' },
  { page: 'governance', href: '#/governance', label: 'Governance' },
];

/** The current route, following `hashchange`. */
function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const follow = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', follow);
    return () => removeEventListener('hashchange', follow);
  }, []);
  return route;
}

function App() {
  const [session, setSession] = useState<Session | undefined>(loadSession);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [policies, setPolicies] = useState<PolicyList | undefined>(undefined);
  const route = useRoute();

  useEffect(() => {
    whenUnauthenticated((error) => {
      void signOut();
      setSession(undefined);
      setNotice(`Your session ended (${error.message}): sign in again.`);
    });
  }, []);

  useEffect(() => {
    if (!session) return;
    request<PolicyList>('/v1/policies', { token: session.token }).then(setPolicies, () => setPolicies(undefined));
  }, [session]);

  const routeKey = route.page === 'promotion' ? `promotion:${route.promotionId}` : route.page;
  const firstPage = useRef(true);
  useEffect(() => {
    // Another page (not the first one loaded): move focus to its main region, so keyboard and
    // screen-reader users start there, as after a page load.
    if (firstPage.current) {
      firstPage.current = false;
      return;
    }
    document.getElementById('main')?.focus({ preventScroll: true });
    scrollTo(0, 0);
  }, [routeKey, !!session]);

  if (!session) {
    return (
      <>
        <SkipLink />
        <header class="top">
          <span class="brand">Modelgate</span>
        </header>
        <SignInPage
          notice={notice}
          onSignedIn={(s) => {
            setNotice(undefined);
            setSession(s);
          }}
        />
      </>
    );
  }

  return (
    <>
      <SkipLink />
      <header class="top">
        <span class="brand">Modelgate</span>
        <nav aria-label="Dashboard">
          <ul>
            {NAV.map((item) => (
              <li key={item.page}>
                <a href={item.href} aria-current={route.page === item.page || (item.page === 'promotions' && route.page === 'promotion') ? 'page' : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who" data-testid="signed-in-as">
          <span>
            {session.name && <span class="name">{session.name} · </span>}
            {session.actor.id} <span class="muted">({session.actor.roles.join(', ') || 'no roles'})</span>
            {session.actor.rolesProblem && <span class="muted roles-problem"> {session.actor.rolesProblem}</span>}
          </span>
          <button
            type="button"
            onClick={() => {
              void signOut(true).then((leaving) => {
                if (leaving) return;
                setSession(undefined);
                setNotice('Signed out.');
              });
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <Page route={route} session={session} policies={policies} />
    </>
  );
}

function Page({ route, session, policies }: { route: Route; session: Session; policies?: PolicyList }) {
  switch (route.page) {
    case 'queue':
      return <QueuePage session={session} />;
    case 'promotions':
      return <PromotionsPage session={session} query={route.query} />;
    case 'promotion':
      return <PromotionPage key={route.promotionId} session={session} promotionId={route.promotionId} policies={policies} />;
    case 'governance':
      return <GovernancePage session={session} query={route.query} />;
    case 'not-found':
      return (
        <main id="main" tabIndex={-1}>
          <h1>No such page</h1>
          <p>
            Nothing lives at <code>{route.path}</code>. Go to <a href="#/queue">your queue</a>.
          </p>
        </main>
      );
  }
}

function SkipLink() {
  return (
    <a class="skip-link" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
      Skip to the content
    </a>
  );
}

const root = document.getElementById('app')!;
root.replaceChildren();
render(<App />, root);
