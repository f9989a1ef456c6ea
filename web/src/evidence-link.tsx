// "Evidence pack" on a promotion's page: the API wants the bearer token in a header, which a plain
// link cannot send, so the zip is fetched and handed to the browser as a download.
import { useState } from 'preact/hooks';
import { ApiRequestError, promotionPath } from './api';

/** The file name the API proposes (Content-Disposition), else one made from the id. */
function fileNameOf(response: Response, promotionId: string): string {
  const proposed = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1];
  return proposed ?? `evidence-${promotionId.replace(/[^A-Za-z0-9._-]+/g, '_')}.zip`;
}

/** Downloads a promotion's evidence pack (`GET /v1/promotions/{id}/evidence`) with the session's token. */
async function downloadEvidence(promotionId: string, token: string): Promise<void> {
  const response = await fetch(promotionPath(promotionId, 'evidence'), {
    headers: { accept: 'application/zip', authorization: `Bearer ${token}` },
    cache: 'no-store',
  });
  if (!response.ok) {
    const body = (await response.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
    throw new ApiRequestError(response.status, body?.error?.code ?? `http_${response.status}`, body?.error?.message ?? `the API answered ${response.status}`);
  }
  const url = URL.createObjectURL(await response.blob());
  try {
    const anchor = document.createElement('a');
    anchor.href = url;
    anchor.download = fileNameOf(response, promotionId);
    document.body.appendChild(anchor);
    anchor.click();
    anchor.remove();
  } finally {
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}

/** A link that downloads the promotion's evidence pack for auditors (a zip; the export is recorded in the audit). */
export function EvidenceLink({ promotionId, token }: { promotionId: string; token: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const onClick = (event: Event) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(undefined);
    downloadEvidence(promotionId, token)
      .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)))
      .finally(() => setBusy(false));
  };
  return (
    <p class="evidence-link">
      <a href={promotionPath(promotionId, 'evidence')} onClick={onClick} data-testid="evidence-link" aria-busy={busy}>
        Evidence pack
      </a>{' '}
      <span class="muted">{busy ? 'preparing the zip…' : '(zip for auditors; the export is recorded in the audit)'}</span>
      {error && (
        <span role="alert" class="error">
          {' '}
          Cannot export the evidence pack: {error}
        </span>
      )}
    </p>
  );
}
