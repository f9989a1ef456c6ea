// My queue: promotions with an open gate I may sign, nearest deadline first, with time left.
import { request } from '../api';
import { LiveStatus, StatusBadge, TableBox, TableHead, TimeLeft, Timestamp } from '../components';
import { usePoll } from '../poll';
import { promotionHref } from '../routes';
import type { Session } from '../session';
import type { ReviewQueue } from '../types';

export function QueuePage({ session }: { session: Session }) {
  const queue = usePoll(() => request<ReviewQueue>('/v1/review-queue', { token: session.token }), `queue:${session.actor.id}`);
  const entries = queue.data?.entries;
  return (
    <main id="main" tabIndex={-1}>
      <h1>My queue</h1>
      <p class="lead">
        Promotions waiting on a gate that you ({session.actor.id}: {session.actor.roles.join(', ') || 'no roles'}) may sign now, nearest deadline first.
      </p>
      <LiveStatus updatedAt={queue.updatedAt} error={queue.error} />
      {entries && entries.length === 0 && (
        <p class="empty-state" data-testid="queue-empty">
          Nothing waits on you. Promotions appear here when a gate you may sign opens.
        </p>
      )}
      {entries && entries.length > 0 && (
        <TableBox label="My queue">
          <table class="data queue" data-testid="queue">
            <caption class="visually-hidden">{entries.length} promotions waiting on you, nearest deadline first</caption>
            <TableHead columns={['Time left', 'Promotion', 'Tier', 'Gates waiting on you', 'Submitted by', 'Submitted']} />
            <tbody>
              {entries.map((entry) => (
                <tr key={entry.promotionId} data-promotion-id={entry.promotionId}>
                  <td>
                    <TimeLeft at={entry.dueAt} />
                    {entry.expedited && <span class="tag tag-warn">expedited</span>}
                  </td>
                  <td>
                    <a href={promotionHref(entry.promotionId)}>
                      {entry.model}@{entry.version} → {entry.target}
                    </a>
                  </td>
                  <td>{entry.riskTier}</td>
                  <td>
                    <ul class="plain">
                      {entry.gates.map((gate) => (
                        <li key={gate.gate} data-gate={gate.gate}>
                          {gate.title} <span class="muted">({gate.approvals}/{gate.quorum} approvals{gate.escalated ? ', escalated' : ''})</span>
                        </li>
                      ))}
                    </ul>
                  </td>
                  <td>{entry.submitter}</td>
                  <td>
                    <Timestamp at={entry.submittedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableBox>
      )}
      {queue.data?.truncated && <p class="notice">Only the first 200 promotions waiting on your roles are shown.</p>}
      {queue.data && queue.data.unreadable.length > 0 && (
        <p class="notice notice-warn">
          {queue.data.unreadable.length} promotion(s) waiting on your roles could not be read just now (is the worker running?):{' '}
          {queue.data.unreadable.join(', ')}. They appear once they answer.
        </p>
      )}
      <p class="muted small">
        Also see <a href="#/promotions?status=IN_REVIEW">every promotion in review</a>. <StatusBadge status="IN_REVIEW" /> promotions leave this list once decided.
      </p>
    </main>
  );
}
