import type { Room } from "@colyseus/sdk";
import { useEffect, useRef, useState } from "preact/hooks";
import { act, ApiError, type Candidate, joinConversation, listCandidates, type MemberBrief, type Session, type View } from "./api.ts";
import { href } from "./app.tsx";
import type { Key, T } from "./i18n.ts";

interface Message {
  seq: number;
  sender: "customer" | "staff" | "system" | "auto";
  senderName: string;
  body: string;
  texts: Record<string, string>;
  createdAt: number;
}
interface ConversationView {
  id: string;
  status: "pending" | "in_progress" | "closed";
  collaborative: boolean;
  channel: string;
  customer: { id: string; name: string };
  follower?: MemberBrief;
  collaborators: MemberBrief[];
  messages: Message[];
  me: Record<string, { unreadCount: number; pinned: boolean }>;
}

const MANAGERS = ["admin", "supervisor", "cs_manager", "marketing_cs"];
const TEAM_VIEWERS = ["admin", "supervisor", "cs_manager"];
type Action = "join" | "leave" | "take_over" | "close" | "reopen" | "pin" | "unpin";

/** The actions docs/protocol.md §2.4 allows this member, from this view, on this state. */
export function allowedActions(
  c: ConversationView,
  me: { id: string; role: string },
  view: View,
  pinned: boolean,
): { reply: boolean; actions: Action[]; manage: boolean; transfer: "collaborators" | "anyone" | null } {
  const isFollower = c.follower?.id === me.id;
  const isCollaborator = c.collaborators.some((m) => m.id === me.id);
  const participant = isFollower || isCollaborator;
  const teamViewer = TEAM_VIEWERS.includes(me.role);
  const open = c.status !== "closed";
  const actions: Action[] = [];
  if (open && teamViewer && !participant && c.follower && c.collaborators.length < 5) actions.push("join");
  if (isCollaborator) actions.push("leave");
  if (open && isCollaborator && MANAGERS.includes(me.role)) actions.push("take_over");
  if (open && isFollower) actions.push("close");
  if (!open && (participant || (teamViewer && view === "team"))) actions.push("reopen");
  if (participant || teamViewer) {
    if (pinned) actions.push("unpin");
    else if (open) actions.push("pin");
  }
  const reply = open && (c.collaborative ? participant : isFollower || (teamViewer && view === "team"));
  // add_collaborators / remove_collaborators (R2.1, R3.1); transfer (R7.1; 1-on-1 and pending: R4.2).
  const manage = open && (isFollower || (isCollaborator && MANAGERS.includes(me.role)));
  const transfer = !open
    ? null
    : c.collaborative
      ? isFollower
        ? "collaborators"
        : null
      : isFollower || (teamViewer && view === "team")
        ? "anyone"
        : null;
  return { reply, actions, manage, transfer };
}

export function ConversationScreen({ t, session, id, view }: { t: T; session: Session; id: string; view: View }) {
  const [room, setRoom] = useState<Room | null>(null);
  const [retry, setRetry] = useState(0);
  const rejoins = useRef(0);
  const [state, setState] = useState<ConversationView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [closed, setClosed] = useState<string | null>(null);
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let gone = false;
    let joined: Room | null = null;
    setState(null);
    setError(null);
    setClosed(null);
    joinConversation(id, view)
      .then((r) => {
        joined = r;
        if (gone) return void r.leave();
        setRoom(r);
        const read = () => setState((r.state as { toJSON(): ConversationView }).toJSON());
        read();
        r.onStateChange(read);
        r.onMessage("result", () => {});
        r.onLeave((code, reason) => {
          if (gone || code === 1000 || code === 4000) return;
          // Server restarting, the SDK giving up, a lost connection: join again; the new state has the newest messages (§2.8).
          if ((code === 4106 || code === 4003 || code === 4001 || code === 1006) && rejoins.current < 5) {
            rejoins.current += 1;
            setTimeout(() => !gone && setRetry((n) => n + 1), 1000 * rejoins.current);
            return;
          }
          // The close codes of docs/protocol.md §2.6, each explained.
          const known = code >= 4101 && code <= 4105 ? (`closed${code}` as Key) : null;
          setClosed(known ? `${t(known)} (${code} ${reason ?? ""})` : t("reconnect"));
        });
        void act(r, "mark_read");
      })
      .catch((err) => !gone && setError(err instanceof ApiError ? err.message : String(err)));
    return () => {
      gone = true;
      if (joined) void joined.leave();
      setRoom(null);
    };
  }, [id, view, retry]);

  // Viewing the conversation: new messages are read (§2.4, SPEC §11).
  const lastSeq = state?.messages.at(-1)?.seq ?? 0;
  useEffect(() => {
    if (room && lastSeq && !closed) void act(room, "mark_read");
  }, [room, lastSeq]);

  const run = async (type: string, payload: Record<string, unknown> = {}) => {
    if (!room) return false;
    setBusy(true);
    setError(null);
    try {
      const r = await act(room, type, payload);
      if (!r.ok) setError(r.message ?? r.code ?? "refused");
      return r.ok;
    } finally {
      setBusy(false);
    }
  };

  const back = <a href={href({ screen: "inbox", view, status: "in_progress" })}>← {t("back")}</a>;
  if (!state)
    return (
      <main class="conversation">
        {back}
        {error ? (
          <p role="alert" class="error">
            {error}
          </p>
        ) : (
          <p>{t("connecting")}</p>
        )}
      </main>
    );
  const mine = state.me[session.member.id];
  const { reply, actions, manage, transfer } = allowedActions(state, session.member, view, mine?.pinned ?? false);
  return (
    <main class="conversation">
      {back}
      <h1>
        {state.customer.name} <span class="channel">{state.channel}</span> <span class="tag">{t(state.status)}</span>
      </h1>
      <section class="participants" aria-label={t("participants")}>
        <div>
          {t("follower")}: {state.follower ? `${state.follower.name} (${t.role(state.follower.role)})` : t("nobody")}
        </div>
        {state.collaborators.length > 0 && <div>{t("collaborators")}:</div>}
        {state.collaborators.length > 0 && (
          <ul class="people-list" aria-label={t("collaborators")}>
            {state.collaborators.map((c) => (
              <li key={c.id} data-member={c.id}>
                {c.name} ({t.role(c.role)})
                {manage && !closed && (
                  <button
                    type="button"
                    disabled={busy}
                    data-action="remove"
                    onClick={() => run("remove_collaborators", { memberIds: [c.id] })}
                  >
                    {t("remove")}
                  </button>
                )}
                {transfer === "collaborators" && !closed && (
                  <button type="button" disabled={busy} data-action="transfer" onClick={() => run("transfer", { memberId: c.id })}>
                    {t("transferTo")}
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
        {!closed && ((manage && state.collaborators.length < 5) || transfer === "anyone") && (
          <Candidates
            t={t}
            conversationId={state.id}
            busy={busy}
            participants={[state.follower?.id ?? "", ...state.collaborators.map((c) => c.id)].join(",")}
            onAdd={manage && state.collaborators.length < 5 ? (memberId) => run("add_collaborators", { memberIds: [memberId] }) : null}
            onTransfer={transfer === "anyone" ? (memberId) => run("transfer", { memberId }) : null}
          />
        )}
      </section>
      {closed && (
        <p role="alert" class="error">
          {closed}
        </p>
      )}
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <div class="actions">
        {!closed &&
          actions.map((a) => (
            <button key={a} type="button" disabled={busy} data-action={a} onClick={() => run(a)}>
              {t(a)}
            </button>
          ))}
      </div>
      <ol class="timeline" aria-label={state.customer.name}>
        {state.messages.map((m) => (
          <li key={m.seq} class={`msg ${m.sender}`} data-seq={m.seq}>
            {m.sender === "system" ? (
              <span class="system">{m.texts[t.locale] ?? m.texts.en ?? ""}</span>
            ) : (
              <>
                <span class="from">{m.senderName}</span>
                <span class="body">{m.body}</span>
              </>
            )}
            <time>{new Date(m.createdAt).toLocaleTimeString(t.locale, { timeStyle: "short" })}</time>
          </li>
        ))}
      </ol>
      {reply && !closed && (
        <form
          class="composer"
          onSubmit={async (e) => {
            e.preventDefault();
            if (text.trim() && (await run("reply", { text }))) setText("");
          }}
        >
          <textarea
            aria-label={t("reply")}
            placeholder={t("replyPlaceholder")}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) (e.currentTarget.form as HTMLFormElement).requestSubmit();
            }}
          />
          <button type="submit" disabled={busy || !text.trim()}>
            {t("send")}
          </button>
        </form>
      )}
    </main>
  );
}

/** Candidate search (§7.4) to add a collaborator or, in a 1-on-1, to transfer or assign. */
function Candidates(props: {
  t: T;
  conversationId: string;
  busy: boolean;
  /** The participants' ids, joined: a change refreshes the search; they are never offered. */
  participants: string;
  onAdd: ((memberId: string) => void) | null;
  onTransfer: ((memberId: string) => void) | null;
}) {
  const { t, conversationId, busy, participants, onAdd, onTransfer } = props;
  const [q, setQ] = useState("");
  const [items, setItems] = useState<Candidate[] | null>(null);
  useEffect(() => {
    let gone = false;
    const timer = setTimeout(() => {
      listCandidates(conversationId, q)
        .then((res) => !gone && setItems(res.items))
        .catch(() => !gone && setItems([]));
    }, 200);
    return () => {
      gone = true;
      clearTimeout(timer);
    };
  }, [conversationId, q, participants]);
  const shown = (items ?? []).filter((m) => !participants.split(",").includes(m.id));
  return (
    <details class="candidates">
      <summary>{onAdd ? t("addCollaborators") : t("assign")}</summary>
      <input type="search" aria-label={t("search")} placeholder={t("search")} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
      {items && shown.length === 0 && <p>{t("noCandidates")}</p>}
      <ul class="people-list">
        {shown.map((m) => (
          <li key={m.id} data-candidate={m.id}>
            {m.name} ({t.role(m.role)}) <span class="muted">{m.email}</span>
            {onAdd && (
              <button type="button" disabled={busy} data-action="add" onClick={() => onAdd(m.id)}>
                {t("add")}
              </button>
            )}
            {onTransfer && (
              <button type="button" disabled={busy} data-action="transfer" onClick={() => onTransfer(m.id)}>
                {t("transferTo")}
              </button>
            )}
          </li>
        ))}
      </ul>
    </details>
  );
}
