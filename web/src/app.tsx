import { useEffect, useMemo, useState } from "preact/hooks";
import { AdminScreen } from "./admin.tsx";
import { ApiError, currentSession, login, type Notice, onSession, type Session, signOut } from "./api.ts";
import { ConversationScreen } from "./conversation.tsx";
import { DashboardScreen, TEAM_VIEWERS } from "./dashboard.tsx";
import { localeOf, type T, translator } from "./i18n.ts";
import { BellIcon } from "./icons.tsx";
import { InboxScreen } from "./inbox.tsx";
import { useInboxRoom } from "./inboxRoom.ts";

/** Where the console is: `#/inbox/<view>/<status>`, `#/c/<conversationId>/<view>`, `#/dashboard` or `#/admin`. */
export type Route =
  | { screen: "inbox"; view: "mine" | "team"; status: "pending" | "in_progress" | "closed" }
  | { screen: "conversation"; id: string; view: "mine" | "team" }
  | { screen: "dashboard" }
  | { screen: "admin" };

function parseRoute(hash: string): Route {
  const [, screen, a, b] = hash.replace(/^#/, "").split("/").map(decodeURIComponent);
  if (screen === "c" && a) return { screen: "conversation", id: a, view: b === "team" ? "team" : "mine" };
  if (screen === "dashboard" || screen === "admin") return { screen };
  const view = a === "team" ? "team" : "mine";
  const status = b === "pending" || b === "closed" ? b : "in_progress";
  return { screen: "inbox", view, status };
}
export function href(route: Route): string {
  if (route.screen === "dashboard" || route.screen === "admin") return `#/${route.screen}`;
  return route.screen === "inbox" ? `#/inbox/${route.view}/${route.status}` : `#/c/${encodeURIComponent(route.id)}/${route.view}`;
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);
  return route;
}

export function App() {
  const [session, setSession] = useState<Session | null>(currentSession());
  useEffect(() => onSession(setSession), []);
  const t = useMemo(() => translator(session ? session.member.locale : localeOf(navigator.language)), [session?.member.locale]);
  useEffect(() => {
    document.documentElement.lang = t.locale;
    document.title = t("title");
  }, [t]);
  return session ? <Shell session={session} t={t} /> : <Login t={t} />;
}

function Login({ t }: { t: T }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(email.trim(), password);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form onSubmit={submit} aria-label={t("signIn")}>
        <h1>{t("title")}</h1>
        <label>
          {t("email")}
          <input
            type="email"
            name="email"
            autoComplete="username"
            required
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
        </label>
        <label>
          {t("password")}
          <input
            type="password"
            name="password"
            autoComplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? t("signingIn") : t("signIn")}
        </button>
      </form>
    </main>
  );
}

function Shell({ session, t }: { session: Session; t: T }) {
  const route = useRoute();
  const inbox = useInboxRoom(session.member.id);
  const [bellOpen, setBellOpen] = useState(false);
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href={href({ screen: "inbox", view: "mine", status: "in_progress" })}>
          {t("title")}
        </a>
        <nav class="screens" aria-label={t("screens")}>
          {TEAM_VIEWERS.includes(session.member.role) && (
            <a href={href({ screen: "dashboard" })} aria-current={route.screen === "dashboard" ? "page" : undefined}>
              {t("dashboard")}
            </a>
          )}
          {session.member.role === "admin" && (
            <a href={href({ screen: "admin" })} aria-current={route.screen === "admin" ? "page" : undefined}>
              {t("admin")}
            </a>
          )}
        </nav>
        <span class="who">
          {session.member.name} · {t.role(session.member.role)}
        </span>
        <button
          type="button"
          class="bell"
          aria-expanded={bellOpen}
          aria-label={`${t("notices")} (${inbox.unreadNotices})`}
          onClick={() => setBellOpen(!bellOpen)}
        >
          <BellIcon />
          {inbox.unreadNotices > 0 && <span class="badge bell-count">{inbox.unreadNotices}</span>}
        </button>
        <button type="button" onClick={() => signOut()}>
          {t("signOut")}
        </button>
      </header>
      {inbox.error && (
        <p role="alert" class="error banner">
          {inbox.error}
        </p>
      )}
      {inbox.reconnecting && (
        <p role="status" class="banner">
          {t("connecting")}
        </p>
      )}
      {bellOpen && <NoticeList t={t} notices={inbox.notices} onReadAll={inbox.readAll} />}
      <Toasts t={t} toasts={inbox.toasts} dismiss={inbox.dismiss} />
      {route.screen === "dashboard" ? (
        <DashboardScreen t={t} session={session} />
      ) : route.screen === "admin" ? (
        <AdminScreen t={t} session={session} />
      ) : route.screen === "inbox" ? (
        <InboxScreen t={t} route={route} counts={inbox.counts} teamView={inbox.teamView} subscribe={inbox.subscribe} />
      ) : (
        <ConversationScreen t={t} session={session} id={route.id} view={route.view} />
      )}
    </div>
  );
}

function NoticeList({ t, notices, onReadAll }: { t: T; notices: Notice[]; onReadAll: () => void }) {
  return (
    <section class="notices" aria-label={t("notices")}>
      <div class="row">
        <h2>{t("notices")}</h2>
        <button type="button" onClick={onReadAll}>
          {t("markAllRead")}
        </button>
      </div>
      {notices.length === 0 ? (
        <p>{t("noNotices")}</p>
      ) : (
        <ul>
          {notices.map((n) => (
            <li key={n.id} class={n.readAt ? "read" : "unread"}>
              {n.conversationId ? <a href={href({ screen: "conversation", id: n.conversationId, view: "mine" })}>{n.text}</a> : n.text}
              <time dateTime={n.createdAt}>{new Date(n.createdAt).toLocaleString(t.locale)}</time>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Toasts({ t, toasts, dismiss }: { t: T; toasts: Notice[]; dismiss: (id: Notice["id"]) => void }) {
  return (
    <div class="toasts" role="status" aria-live="polite">
      {toasts.map((n) => (
        <div class="toast" key={n.id}>
          <span>{n.text}</span>
          <button type="button" aria-label={t("dismiss")} onClick={() => dismiss(n.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
