// The GitOps deployment provider: the deployment manifest committed to a git working copy,
// pushed when the working copy has the configured remote. The commit carries a trailer with the
// deployment id, so a retry finds its own commit instead of committing twice.
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ResolvedGitOpsDeployment } from '../policy/resolved';
import type { DeploymentOutcome, DeploymentRequest } from '../shared/deployment';
import { renderInferenceService } from './kserve';

const run = promisify(execFile);

/** The working copy is not usable (not a git repository, a path escaping it): retrying will not help. */
export class GitOpsConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GitOpsConfigurationError';
  }
}

const DEPLOYMENT_TRAILER = 'Modelgate-Deployment';
const REVERT_TRAILER = 'Modelgate-Revert';
const AUTHOR = ['-c', 'user.name=Modelgate', '-c', 'user.email=modelgate@localhost'];

/** One git operation at a time per working copy within this process. */
const queues = new Map<string, Promise<unknown>>();
function serialized<T>(repository: string, work: () => Promise<T>): Promise<T> {
  const previous = queues.get(repository) ?? Promise.resolve();
  const next = previous.then(work, work);
  const tail = next.catch(() => undefined);
  queues.set(repository, tail);
  void tail.then(() => {
    if (queues.get(repository) === tail) queues.delete(repository);
  });
  return next;
}

async function git(cwd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run('git', args, { cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`git ${args.filter((a) => !a.startsWith('user.')).join(' ')}: ${(e.stderr || e.message).trim().slice(0, 500)}`);
  }
}

/** The repository's root, or a configuration error naming the path. */
async function workingCopy(config: ResolvedGitOpsDeployment): Promise<string> {
  const repository = path.resolve(config.repository);
  try {
    return await git(repository, ['rev-parse', '--show-toplevel']);
  } catch {
    throw new GitOpsConfigurationError(`${repository} is not a git working copy`);
  }
}

/** The manifest's path inside the repository, refusing paths that leave it. */
export function manifestPath(config: ResolvedGitOpsDeployment, request: DeploymentRequest): string {
  const relative = config.path.replaceAll('{model}', request.model).replaceAll('{environment}', request.environment);
  const normalized = path.posix.normalize(relative);
  if (path.posix.isAbsolute(normalized) || normalized.startsWith('..')) {
    throw new GitOpsConfigurationError(`deployment path ${relative} leaves the repository`);
  }
  return normalized;
}

async function hasRemote(root: string, remote: string): Promise<boolean> {
  return (await git(root, ['remote'])).split('\n').includes(remote);
}

/** Brings the working copy up to date with the remote branch (keeping unpushed commits on top). */
async function syncWithRemote(root: string, config: ResolvedGitOpsDeployment): Promise<void> {
  const remoteBranch = await git(root, ['ls-remote', '--heads', config.remote, config.branch]);
  if (!remoteBranch) return; // the first push creates it
  await git(root, ['fetch', '--quiet', config.remote, config.branch]);
  await git(root, ['rebase', '--quiet', 'FETCH_HEAD']);
}

async function commitWithTrailer(root: string, trailer: string, id: string): Promise<string | undefined> {
  const found = await git(root, ['log', '--format=%H', '-F', `--grep=${trailer}: ${id}`]);
  return found.split('\n').find((line) => line.length > 0);
}

/** Commits (as Modelgate) what is staged, or only `paths`; returns the new commit. */
async function commitAs(root: string, subject: string, body: string, paths: string[] = []): Promise<string> {
  await git(root, [...AUTHOR, 'commit', '--quiet', '--allow-empty', '-m', subject, '-m', body, ...paths]);
  return git(root, ['rev-parse', 'HEAD']);
}

async function push(root: string, config: ResolvedGitOpsDeployment): Promise<void> {
  await git(root, ['push', '--quiet', config.remote, `HEAD:refs/heads/${config.branch}`]);
}

/**
 * Writes the InferenceService for the request and commits it (message names the promotion;
 * trailer `Modelgate-Deployment: <id>`), then pushes when the remote exists. Idempotent: an
 * existing commit with the trailer is reused (and pushed if it was not yet).
 */
export function deployWithGitOps(config: ResolvedGitOpsDeployment, request: DeploymentRequest): Promise<DeploymentOutcome> {
  return serialized(path.resolve(config.repository), async () => {
    const root = await workingCopy(config);
    const file = manifestPath(config, request);
    const remote = await hasRemote(root, config.remote);
    if (remote) await syncWithRemote(root, config);
    let commit = await commitWithTrailer(root, DEPLOYMENT_TRAILER, request.deploymentId);
    if (!commit) {
      await mkdir(path.dirname(path.join(root, file)), { recursive: true });
      await writeFile(path.join(root, file), renderInferenceService(request, config.namespace));
      await git(root, ['add', '--', file]);
      const verb = request.action === 'rollback' ? 'Roll back' : 'Deploy';
      commit = await commitAs(
        root,
        `${verb} ${request.model}@${request.version} to ${request.environment}`,
        `Promotion: ${request.promotionId}\nArtifact-SHA256: ${request.artifact.sha256}\n${DEPLOYMENT_TRAILER}: ${request.deploymentId}`,
        ['--', file],
      );
    }
    if (remote) await push(root, config);
    return {
      provider: 'gitops',
      status: 'deployed',
      reference: commit,
      detail: `${file} committed as ${commit.slice(0, 12)}${remote ? ` and pushed to ${config.remote}/${config.branch}` : ' (no remote configured)'}`,
    };
  });
}

/**
 * Compensation: undoes whatever a failed deployment left. A half-written, uncommitted file is
 * restored; a commit that never left the working copy is dropped; a pushed one is reverted
 * (trailer `Modelgate-Revert: <id>`) and the revert pushed. Idempotent.
 */
export function revertGitOps(config: ResolvedGitOpsDeployment, request: DeploymentRequest): Promise<DeploymentOutcome> {
  return serialized(path.resolve(config.repository), async () => {
    const root = await workingCopy(config);
    const file = manifestPath(config, request);
    // A half-written change: unstage it and put back what HEAD has (or remove a new file).
    await git(root, ['reset', '--quiet', '--', file]).catch(() => undefined);
    const tracked = await git(root, ['ls-files', '--', file]);
    if (tracked) await git(root, ['checkout', '--', file]);
    else await rm(path.join(root, file), { force: true });

    const remote = await hasRemote(root, config.remote);
    const commit = await commitWithTrailer(root, DEPLOYMENT_TRAILER, request.deploymentId);
    if (!commit) return { provider: 'gitops', status: 'deployed', detail: 'nothing had been committed' };
    if (await commitWithTrailer(root, REVERT_TRAILER, request.deploymentId)) {
      if (remote) await push(root, config);
      return { provider: 'gitops', status: 'deployed', reference: commit, detail: `${commit.slice(0, 12)} already reverted` };
    }
    const published = remote && (await git(root, ['branch', '-r', '--contains', commit])).length > 0;
    const head = await git(root, ['rev-parse', 'HEAD']);
    if (!published && head === commit) {
      await git(root, ['reset', '--quiet', '--hard', 'HEAD~1']);
      return { provider: 'gitops', status: 'deployed', reference: commit, detail: `unpublished commit ${commit.slice(0, 12)} dropped` };
    }
    await git(root, ['revert', '--no-commit', commit]);
    await commitAs(root, `Revert deployment of ${request.model}@${request.version} to ${request.environment}`, `Promotion: ${request.promotionId}\n${REVERT_TRAILER}: ${request.deploymentId}`);
    if (remote) await push(root, config);
    return { provider: 'gitops', status: 'deployed', reference: commit, detail: `${commit.slice(0, 12)} reverted${remote ? ' and pushed' : ''}` };
  });
}
