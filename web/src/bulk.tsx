import { useCallback, useEffect, useState } from "preact/hooks";
import {
  type BulkKind,
  getJob,
  getJobProgress,
  idempotencyKey,
  type Job,
  type JobWithItems,
  lastJobMessage,
  onJob,
  problem,
  startBulk,
} from "./adminApi.ts";
import { type Candidate, type ListItem, listCandidates, type Status, type View } from "./api.ts";
import type { T } from "./i18n.ts";

/**
 * The inbox's bulk bar (docs/protocol.md §7.5): close, reopen or transfer the selected
 * conversations as one job; its progress comes live from the inbox room's `job` messages, its final
 * outcome per item from `GET /api/v2/jobs/{id}` (refusals in the member's locale, e.g. R8.5's).
 */
/** A job followed live: `track` it once started; `job` is its newest progress, `final` its items once it is over. */
export function useJob() {
  const [job, setJob] = useState<Job | null>(null);
  const [final, setFinal] = useState<JobWithItems | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!job) return;
    if (job.status !== "running") {
      let gone = false;
      getJob(job.id)
        .then((full) => !gone && setFinal(full))
        .catch((err) => !gone && setError(problem(err)));
      return () => {
        gone = true;
      };
    }
    const off = onJob((j) => {
      if (j.id === job.id) setJob((held) => (held && held.processed > j.processed && held.status === j.status ? held : j));
    });
    // Should a message be missed (a reconnect), ask now and then.
    const poll = setInterval(() => {
      getJobProgress(job.id)
        .then((progress) => progress.status !== "running" && setJob(progress))
        .catch(() => {});
    }, 3_000);
    return () => {
      off();
      clearInterval(poll);
    };
  }, [job?.id, job?.status]);
  const track = useCallback((started: Job) => {
    setFinal(null);
    setError(null);
    const heard = lastJobMessage(started.id); // a short job may have reported before its 202 arrived
    setJob(heard && heard.processed >= started.processed ? heard : started);
  }, []);
  const reset = useCallback(() => {
    setJob(null);
    setFinal(null);
    setError(null);
  }, []);
  return { job, final, error, track, reset };
}

/** A job's progress (done / total), then the items it could not do with their refusal's message. */
export function JobProgress({
  t,
  job,
  final,
  names,
  dismiss,
}: {
  t: T;
  job: Job;
  final: JobWithItems | null;
  names: Map<string, string>;
  dismiss: () => void;
}) {
  const failures = final?.items.filter((i) => i.outcome === "refused") ?? [];
  return (
    <div class="job" role="status" aria-live="polite" data-job-status={job.status}>
      <span>
        {t(`job_${job.kind}`)}: {t("jobProgress").replace("{done}", String(job.processed)).replace("{total}", String(job.total))}
        {job.status !== "running" && ` · ${t(job.status === "done" ? "jobDone" : "jobFailed")}`}
      </span>
      <progress max={job.total || 1} value={job.processed} />
      {final && failures.length > 0 && (
        <ul class="failures" aria-label={t("jobFailures")}>
          {failures.map((f) => (
            <li key={f.conversationId} data-id={f.conversationId}>
              <strong>{names.get(f.conversationId) ?? f.conversationId}</strong>: {f.message ?? f.code}
            </li>
          ))}
        </ul>
      )}
      {job.status !== "running" && (
        <button type="button" class="link" onClick={dismiss}>
          {t("dismiss")}
        </button>
      )}
    </div>
  );
}

/**
 * The inbox's bulk bar (docs/protocol.md §7.5): close, reopen or transfer the selected
 * conversations as one job; its progress comes live from the inbox room's `job` messages, its final
 * outcome per item from `GET /api/v2/jobs/{id}` (refusals in the member's locale, e.g. R8.5's).
 */
export function BulkBar(props: { t: T; view: View; status: Status; selected: string[]; items: ListItem[]; clear: () => void }) {
  const { t, view, status, selected, items } = props;
  const [busy, setBusy] = useState(false);
  const [failed, setError] = useState<string | null>(null);
  const [picking, setPicking] = useState(false);
  const { job, final, error: jobError, track, reset } = useJob();
  const error = failed ?? jobError;

  const submit = async (kind: BulkKind, memberId?: string) => {
    setBusy(true);
    setError(null);
    reset();
    try {
      track(await startBulk({ kind, conversationIds: selected, view, ...(memberId ? { memberId } : {}) }, idempotencyKey()));
      setPicking(false);
      props.clear();
    } catch (err) {
      setError(problem(err));
    } finally {
      setBusy(false);
    }
  };

  const names = new Map(items.map((i) => [i.id, i.customer.name]));
  const open = status !== "closed";
  return (
    <section class="bulk" aria-label={t("bulkActions")}>
      {selected.length > 0 && (
        <div class="row bulk-actions">
          <span class="selected-count">{t("selectedN").replace("{n}", String(selected.length))}</span>
          {open && (
            <button type="button" data-bulk="close" disabled={busy} onClick={() => submit("close")}>
              {t("close")}
            </button>
          )}
          {!open && (
            <button type="button" data-bulk="reopen" disabled={busy} onClick={() => submit("reopen")}>
              {t("reopen")}
            </button>
          )}
          {open && (
            <button type="button" data-bulk="transfer" aria-expanded={picking} disabled={busy} onClick={() => setPicking(!picking)}>
              {t("transfer")}
            </button>
          )}
          <button type="button" class="link" onClick={props.clear}>
            {t("clearSelection")}
          </button>
        </div>
      )}
      {picking && selected.length > 0 && (
        <MemberPicker t={t} conversationId={selected[0]!} busy={busy} onPick={(id) => submit("transfer", id)} />
      )}
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {job && <JobProgress t={t} job={job} final={final} names={names} dismiss={reset} />}
    </section>
  );
}

/** The new follower: active members who are not participants of the first selected conversation (§7.4). */
function MemberPicker({
  t,
  conversationId,
  busy,
  onPick,
}: {
  t: T;
  conversationId: string;
  busy: boolean;
  onPick: (memberId: string) => void;
}) {
  const [q, setQ] = useState("");
  const [found, setFound] = useState<Candidate[] | null>(null);
  useEffect(() => {
    let gone = false;
    const timer = setTimeout(() => {
      listCandidates(conversationId, q)
        .then((res) => !gone && setFound(res.items))
        .catch(() => !gone && setFound([]));
    }, 200);
    return () => {
      gone = true;
      clearTimeout(timer);
    };
  }, [conversationId, q]);
  return (
    <div class="picker">
      <input type="search" aria-label={t("search")} placeholder={t("search")} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
      {found === null ? (
        <p>{t("loading")}</p>
      ) : found.length === 0 ? (
        <p>{t("noCandidates")}</p>
      ) : (
        <ul>
          {found.map((c) => (
            <li key={c.id}>
              <button type="button" data-member={c.id} disabled={busy} onClick={() => onPick(c.id)}>
                {t("transferToName").replace("{name}", c.name)} <span class="role">{t.role(c.role)}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
