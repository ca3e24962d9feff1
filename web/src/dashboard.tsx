import { useEffect, useState } from "preact/hooks";
import { CloseCode, type TeamView } from "../../client/index.ts";
import { type MemberLoad, openTeam, problem, type TeamSnapshot, teamSnapshot } from "./adminApi.ts";
import { type Session, signOut } from "./api.ts";
import { href } from "./app.tsx";
import type { T } from "./i18n.ts";

/** Roles that may join the team room (docs/protocol.md §9.1: TEAM_VIEWERS). */
export const TEAM_VIEWERS: readonly string[] = ["admin", "supervisor", "cs_manager"];

const STATUSES = ["pending", "in_progress", "closed"] as const;
const TYPES = ["regular", "collaborative"] as const;

interface TeamRoomView {
  team: TeamSnapshot | null;
  error: string | null;
  reconnecting: boolean;
}

/**
 * The workspace's team room (§9), live, through the typed client's `TeamView` (which reconnects and
 * rejoins by itself; the state comes whole again); left on unmount. When the view gives up, or the
 * first join fails for a passing reason, the dashboard joins anew with a backoff.
 */
function useTeamRoom(t: T): TeamRoomView {
  const [team, setTeam] = useState<TeamSnapshot | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reconnecting, setReconnecting] = useState(false);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    let view: TeamView | null = null;
    let gone = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const again = () => {
      setReconnecting(true);
      timer = setTimeout(() => setAttempt((n) => n + 1), Math.min(15_000, 500 * 2 ** Math.min(attempt, 5)));
    };
    (async () => {
      try {
        view = await openTeam();
      } catch (err) {
        if (gone) return;
        const status = (err as { status?: number }).status ?? 0;
        if (status === 0 || status >= 500 || /seat reservation/i.test(problem(err))) again();
        else setError(problem(err));
        return;
      }
      if (gone) {
        void view.leave();
        return;
      }
      const joined = view;
      setError(null);
      setReconnecting(false);
      const read = () => setTeam(teamSnapshot(joined));
      read();
      joined.on("change", read);
      joined.on("drop", () => setReconnecting(true));
      joined.on("reconnected", () => {
        setReconnecting(false);
        read();
      });
      joined.on("closed", (code) => {
        if (gone) return;
        if (code === CloseCode.deactivated) return signOut(); // §9.1
        if (code === CloseCode.noLongerParticipant) return setError(t("teamNotAllowed")); // the role left TEAM_VIEWERS
        if (code === 1000 || code === 4000) return;
        again(); // the view gave up rejoining
      });
    })();
    return () => {
      gone = true;
      clearTimeout(timer);
      if (view) void view.leave();
    };
  }, [attempt]);
  return { team, error, reconnecting };
}

/** Re-renders every `ms` (the overdue list's "waiting N minutes" is computed with the browser's clock, §9.2). */
function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

export function DashboardScreen({ t, session }: { t: T; session: Session }) {
  if (!TEAM_VIEWERS.includes(session.member.role)) {
    return (
      <main class="dashboard">
        <h1>{t("dashboard")}</h1>
        <p role="alert" class="error">
          {t("teamNotAllowed")}
        </p>
      </main>
    );
  }
  return <Dashboard t={t} />;
}

function Dashboard({ t }: { t: T }) {
  const { team, error, reconnecting } = useTeamRoom(t);
  const now = useNow(15_000);
  const members = team ? Object.values(team.members).sort(byLoad) : [];
  const count = (status: string, type: string) => team?.counts[`${status}.${type}`] ?? 0;
  return (
    <main class="dashboard">
      <h1>
        {t("dashboard")}{" "}
        <span class={`live ${team && !reconnecting ? "on" : ""}`} role="status">
          {team && !reconnecting ? t("live") : t("connecting")}
        </span>
      </h1>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {!team ? (
        !error && <p>{t("loading")}</p>
      ) : (
        <>
          <section aria-labelledby="dash-counts">
            <h2 id="dash-counts">{t("conversations")}</h2>
            <table class="counts">
              <thead>
                <tr>
                  <th scope="col">
                    <span class="sr-only">{t("status")}</span>
                  </th>
                  {TYPES.map((k) => (
                    <th key={k} scope="col">
                      {t(k)}
                    </th>
                  ))}
                  <th scope="col">{t("total")}</th>
                </tr>
              </thead>
              <tbody>
                {STATUSES.map((s) => (
                  <tr key={s} data-status={s}>
                    <th scope="row">{t(s)}</th>
                    {TYPES.map((k) => (
                      <td key={k} data-count={`${s}.${k}`}>
                        {count(s, k)}
                      </td>
                    ))}
                    <td data-count={`${s}.total`}>{count(s, "regular") + count(s, "collaborative")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <section aria-labelledby="dash-members">
            <h2 id="dash-members">{t("memberLoads")}</h2>
            <table class="loads">
              <thead>
                <tr>
                  <th scope="col">{t("member")}</th>
                  <th scope="col">{t("following")}</th>
                  <th scope="col">{t("collaborating")}</th>
                </tr>
              </thead>
              <tbody>
                {members.map((m) => (
                  <LoadRow key={m.id} t={t} m={m} />
                ))}
              </tbody>
            </table>
          </section>
          <section aria-labelledby="dash-overdue">
            <h2 id="dash-overdue">
              {t("overdue")} <span class="count">{team.overdueTotal}</span>
            </h2>
            <p class="hint-text">{t("overdueAfter").replace("{n}", String(team.overdueAfterMinutes))}</p>
            {team.overdue.length === 0 ? (
              <p class="empty">{t("noOverdue")}</p>
            ) : (
              <ul class="overdue-list">
                {team.overdue.map((o) => (
                  <li key={o.conversationId} data-id={o.conversationId}>
                    <a href={href({ screen: "conversation", id: o.conversationId, view: "team" })}>
                      <strong>{o.customerName}</strong>
                      <span class="channel">{o.channel}</span>
                      <span class="tag">{t(o.status as "pending")}</span>
                    </a>
                    <span class="follower-of">
                      {t("follower")}: {(o.followerId && team.members[o.followerId]?.name) || t("nobody")}
                    </span>
                    <span class="tag overdue">
                      {t("waitingMinutes").replace("{n}", String(Math.max(0, Math.floor((now - o.waitingSince) / 60_000))))}
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </section>
          {team.csatAnswered > 0 && (
            <p class="csat">
              {t("csat")}: {team.csatAverage.toFixed(2)} / 5 · {team.csatAnswered}
            </p>
          )}
        </>
      )}
    </main>
  );
}

/** Active members first, then the heaviest load, then by name. */
function byLoad(a: MemberLoad, b: MemberLoad): number {
  if ((a.status === "active") !== (b.status === "active")) return a.status === "active" ? -1 : 1;
  const load = b.following + b.collaborating - (a.following + a.collaborating);
  return load || a.name.localeCompare(b.name);
}

function LoadRow({ t, m }: { t: T; m: MemberLoad }) {
  return (
    <tr data-member={m.id} class={m.status === "active" ? "" : "inactive"}>
      <th scope="row">
        <span
          class={`dot ${m.online ? "online" : "offline"}`}
          role="img"
          aria-label={m.online ? t("online") : t("offline")}
          title={m.online ? t("online") : t("offline")}
        />
        {m.name} <span class="role">{t.role(m.role)}</span>
        {m.status !== "active" && <span class="tag">{t("deactivated")}</span>}
      </th>
      <td data-load="following">{m.following}</td>
      <td data-load="collaborating">{m.collaborating}</td>
    </tr>
  );
}
