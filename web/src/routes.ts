// Hash routes of the dashboard: #/queue, #/promotions?filters, #/promotions/<id>, #/governance.

/** Where the dashboard is. */
export type Route =
  | { page: 'queue' }
  | { page: 'promotions'; query: URLSearchParams }
  | { page: 'promotion'; promotionId: string }
  | { page: 'governance'; query: URLSearchParams }
  | { page: 'not-found'; path: string };

/** Parses a location hash (`#/promotions/promote%3Afraud…`). */
export function parseRoute(hash: string): Route {
  const [rawPath = '', rawQuery = ''] = hash.replace(/^#/, '').split('?', 2);
  const path = rawPath.replace(/\/+$/, '') || '/queue';
  const query = new URLSearchParams(rawQuery);
  if (path === '/queue') return { page: 'queue' };
  if (path === '/promotions') return { page: 'promotions', query };
  if (path === '/governance') return { page: 'governance', query };
  const promotion = /^\/promotions\/(.+)$/.exec(path);
  if (promotion) {
    try {
      return { page: 'promotion', promotionId: decodeURIComponent(promotion[1]!) };
    } catch {
      return { page: 'not-found', path };
    }
  }
  return { page: 'not-found', path };
}

/** Link to a promotion's page. */
export const promotionHref = (promotionId: string) => `#/promotions/${encodeURIComponent(promotionId)}`;
