import { Component } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import {
  type ActionAnswer,
  CloseCode,
  type ConversationView,
  MANAGERS,
  type Role,
  STATE_MESSAGE_WINDOW,
  TEAM_VIEWERS,
} from "../../client/index.ts";
import {
  ApiError,
  type Candidate,
  devtools,
  type LogEvent,
  listCandidates,
  type MemberBrief,
  openConversation,
  type Session,
  type TimelineMessage,
  type View,
} from "./api.ts";
import { href } from "./app.tsx";
import type { Key, T } from "./i18n.ts";

/** The parts of the room's state (docs/protocol.md §2.2) the screen reads, as `state.toJSON()` gives them. */
interface Snapshot {
  id: string;
  status: "pending" | "in_progress" | "closed";
  collaborative: boolean;
  channel: string;
  customer: { id: string; name: string };
  follower?: MemberBrief;
  collaborators: MemberBrief[];
  lastSeq: number;
  me: Record<string, { unreadCount: number; pinned: boolean }>;
}

type Action = "join" | "leave" | "take_over" | "close" | "reopen" | "pin" | "unpin";

/** The actions docs/protocol.md §2.4 allows this member, from this view, on this state. */
export function allowedActions(
  c: Pick<Snapshot, "follower" | "collaborators" | "status" | "collaborative">,
  me: { id: string; role: string },
  view: View,
  pinned: boolean,
): { reply: boolean; actions: Action[]; manage: boolean; transfer: "collaborators" | "anyone" | null } {
  const isFollower = c.follower?.id === me.id;
  const isCollaborator = c.collaborators.some((m) => m.id === me.id);
  const participant = isFollower || isCollaborator;
  const teamViewer = TEAM_VIEWERS.has(me.role as Role);
  const open = c.status !== "closed";
  const actions: Action[] = [];
  if (open && teamViewer && !participant && c.follower && c.collaborators.length < 5) actions.push("join");
  if (isCollaborator) actions.push("leave");
  if (open && isCollaborator && MANAGERS.has(me.role as Role)) actions.push("take_over");
  if (open && isFollower) actions.push("close");
  if (!open && (participant || (teamViewer && view === "team"))) actions.push("reopen");
  if (participant || teamViewer) {
    if (pinned) actions.push("unpin");
    else if (open) actions.push("pin");
  }
  const reply = open && (c.collaborative ? participant : isFollower || (teamViewer && view === "team"));
  // add_collaborators / remove_collaborators (R2.1, R3.1); transfer (R7.1; 1-on-1 and pending: R4.2).
  const manage = open && (isFollower || (isCollaborator && MANAGERS.has(me.role as Role)));
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

type Run = (work: (c: ConversationView) => Promise<ActionAnswer>) => Promise<boolean>;

/** The action methods of the typed client, by the action's name (docs/protocol.md §2.4). */
const ACTIONS: Record<Action, (c: ConversationView) => Promise<ActionAnswer>> = {
  join: (c) => c.join(),
  leave: (c) => c.leaveConversation(),
  take_over: (c) => c.takeOver(),
  close: (c) => c.close(),
  reopen: (c) => c.reopen(),
  pin: (c) => c.pin(),
  unpin: (c) => c.unpin(),
};

/** The explanation of a close code (docs/protocol.md §2.6), or null for one the view recovers from. */
function closeText(t: T, code: number, reason: string | undefined): string | null {
  if (code === 1000 || code === 4000) return null;
  const known =
    code === CloseCode.removed ||
    code === CloseCode.left ||
    code === CloseCode.closed ||
    code === CloseCode.deactivated ||
    code === CloseCode.noLongerParticipant;
  return known ? `${t(`closed${code}` as Key)} (${code} ${reason ?? ""})` : t("reconnect");
}

export function ConversationScreen({ t, session, id, view }: { t: T; session: Session; id: string; view: View }) {
  const [conv, setConv] = useState<ConversationView | null>(null);
  const [state, setState] = useState<Snapshot | null>(null);
  const [timeline, setTimeline] = useState<TimelineMessage[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [closed, setClosed] = useState<string | null>(null);
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  /** `history` answered a short page: nothing older is left. */
  const [historyEnd, setHistoryEnd] = useState(false);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [reconnecting, setReconnecting] = useState(false);

  useEffect(() => {
    let gone = false;
    let opened: ConversationView | null = null;
    setState(null);
    setTimeline([]);
    setError(null);
    setClosed(null);
    setHistoryEnd(false);
    setReconnecting(false);
    openConversation(id, view)
      .then((c) => {
        opened = c;
        if (gone) return void c.disconnect();
        setConv(c);
        devtools.conversation = c;
        const read = () => setState(c.state.toJSON() as unknown as Snapshot);
        const readTimeline = () => setTimeline(c.timeline());
        read();
        readTimeline();
        c.on("change", read);
        c.on("timeline", readTimeline);
        // A lost connection: the view reconnects (or rejoins) and catches up by itself (§2.8).
        c.on("drop", () => !gone && setReconnecting(true));
        c.on("reconnected", () => !gone && setReconnecting(false));
        c.on("closed", (code, reason) => {
          if (!gone) setClosed(closeText(t, code, reason));
        });
        void c.markRead().catch(() => {});
      })
      .catch((err) => !gone && setError(err instanceof ApiError ? err.message : String(err)));
    return () => {
      gone = true;
      if (opened) void opened.disconnect();
      if (devtools.conversation === opened) devtools.conversation = null;
      setConv(null);
    };
  }, [id, view]);

  // Viewing the conversation: new messages are read (§2.4, SPEC §11).
  const lastSeq = timeline.at(-1)?.seq ?? 0;
  useEffect(() => {
    if (conv && lastSeq && !conv.closed) void conv.markRead().catch(() => {});
  }, [conv, lastSeq]);

  const run: Run = async (work) => {
    if (!conv) return false;
    setBusy(true);
    setError(null);
    try {
      const r = await work(conv);
      if (!r.ok) setError(r.message || r.code);
      return r.ok;
    } catch (err) {
      // The view closed before the answer (the close itself is explained): nothing more to say.
      if (!conv.closed) setError(String(err));
      return false;
    } finally {
      setBusy(false);
    }
  };

  const older = useCallback(async () => {
    if (!conv || loadingOlder || historyEnd) return;
    setLoadingOlder(true);
    try {
      const a = await conv.history({ beforeSeq: conv.timeline()[0]?.seq ?? conv.state.lastSeq + 1, limit: 50 });
      if (!a.ok) setError(a.message);
      else {
        if (a.messages.length < 50) setHistoryEnd(true);
        setTimeline(conv.timeline());
      }
    } catch {
      // closed meanwhile
    } finally {
      setLoadingOlder(false);
    }
  }, [conv, loadingOlder, historyEnd]);

  // One formatter for every row (`toLocaleTimeString` builds one per call: slow on long timelines).
  const timeFormat = useMemo(() => new Intl.DateTimeFormat(t.locale, { timeStyle: "short" }), [t.locale]);
  const back = <a href={href({ screen: "inbox", view, status: "in_progress" })}>← {t("back")}</a>;
  if (!state || !conv)
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
  // The state holds the newest 50 messages: with a full window, older ones may exist (`history`, §2.7).
  const mayHaveOlder = !historyEnd && timeline.length >= STATE_MESSAGE_WINDOW;
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
                  <button type="button" disabled={busy} data-action="remove" onClick={() => run((v) => v.removeCollaborators([c.id]))}>
                    {t("remove")}
                  </button>
                )}
                {transfer === "collaborators" && !closed && (
                  <button type="button" disabled={busy} data-action="transfer" onClick={() => run((v) => v.transfer(c.id))}>
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
            onAdd={manage && state.collaborators.length < 5 ? (memberId) => run((v) => v.addCollaborators([memberId])) : null}
            onTransfer={transfer === "anyone" ? (memberId) => run((v) => v.transfer(memberId)) : null}
          />
        )}
      </section>
      {reconnecting && !closed && (
        <p role="status" class="banner">
          {t("connecting")}
        </p>
      )}
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
            <button key={a} type="button" disabled={busy} data-action={a} onClick={() => run(ACTIONS[a])}>
              {t(a)}
            </button>
          ))}
      </div>
      <StatusLog t={t} conv={conv} lastSeq={state.lastSeq} newestMessage={lastSeq} />
      {mayHaveOlder && <OlderButton t={t} busy={loadingOlder} onLoad={older} />}
      <ol class="timeline" aria-label={state.customer.name}>
        {timeline.map((m) => (
          <Message key={m.seq} m={m} time={timeFormat} />
        ))}
      </ol>
      {reply && !closed && (
        <form
          class="composer"
          onSubmit={async (e) => {
            e.preventDefault();
            if (text.trim() && (await run((v) => v.reply(text)))) setText("");
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

/** One timeline row; a message held changes only in its delivery (a new object), so a row renders again only when its message changed. */
class Message extends Component<{ m: TimelineMessage; time: Intl.DateTimeFormat }> {
  override shouldComponentUpdate(next: { m: TimelineMessage; time: Intl.DateTimeFormat }): boolean {
    return next.m !== this.props.m || next.time !== this.props.time;
  }
  render() {
    const { m, time } = this.props;
    return (
      <li class={`msg ${m.sender}`} data-seq={m.seq}>
        {m.sender === "system" ? (
          <span class="system">{m.text}</span>
        ) : (
          <>
            <span class="from">{m.senderName}</span>
            <span class="body">{m.body}</span>
          </>
        )}
        <time>{time.format(m.createdAt)}</time>
      </li>
    );
  }
}

/**
 * "Older messages" above the timeline (`history` by `beforeSeq`, §2.7). Once the reader has
 * scrolled, it also loads by itself when it comes into view (scrolling up); the browser's scroll
 * anchoring keeps the messages in view where they were.
 */
function OlderButton({ t, busy, onLoad }: { t: T; busy: boolean; onLoad: () => void }) {
  const button = useRef<HTMLButtonElement>(null);
  const load = useRef(onLoad);
  load.current = onLoad;
  useEffect(() => {
    const el = button.current;
    if (!el || typeof IntersectionObserver === "undefined") return;
    let scrolled = false;
    const onScroll = () => {
      scrolled = true;
    };
    addEventListener("scroll", onScroll, { passive: true, once: true });
    const observer = new IntersectionObserver((entries) => {
      if (scrolled && entries.some((e) => e.isIntersecting)) load.current();
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      removeEventListener("scroll", onScroll);
    };
  }, []);
  return (
    <button type="button" class="more older" ref={button} disabled={busy} data-action="older" onClick={onLoad}>
      {busy ? t("loading") : t("olderMessages")}
    </button>
  );
}

/**
 * The status log (docs/protocol.md §2.7 `log`, the texts of §4): who added, removed, joined, left,
 * took over, transferred, closed and reopened, newest last. Read when opened; a new entry of the
 * conversation that is not a message (`lastSeq` past everything held) is a new log line: read again.
 * Older lines page by `beforeSeq`.
 */
function StatusLog({ t, conv, lastSeq, newestMessage }: { t: T; conv: ConversationView; lastSeq: number; newestMessage: number }) {
  const [open, setOpen] = useState(false);
  const [events, setEvents] = useState<LogEvent[] | null>(null);
  const [end, setEnd] = useState(false);
  const [failed, setFailed] = useState<string | null>(null);
  const merge = useCallback(
    (incoming: readonly LogEvent[]) => {
      setEvents((held) => {
        const bySeq = new Map((held ?? []).map((e) => [e.seq, e]));
        for (const e of [...conv.logEvents(), ...incoming]) bySeq.set(e.seq, e);
        return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
      });
    },
    [conv],
  );
  const read = useCallback(
    async (beforeSeq?: number) => {
      try {
        const a = await conv.log(beforeSeq === undefined ? { limit: 50 } : { beforeSeq, limit: 50 });
        if (!a.ok) return setFailed(a.message);
        setFailed(null);
        if (beforeSeq !== undefined || events === null) setEnd(a.events.length < 50);
        merge(a.events);
      } catch {
        // the view closed
      }
    },
    [conv, merge, events],
  );
  const newestHeld = Math.max(newestMessage, events?.at(-1)?.seq ?? 0);
  useEffect(() => {
    if (open && (events === null || lastSeq > newestHeld)) void read();
  }, [open, lastSeq]);
  return (
    <details class="status-log" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>{t("statusLog")}</summary>
      {failed && <p class="error">{failed}</p>}
      {events && !end && (
        <button type="button" class="more" data-action="older-log" onClick={() => read(events[0]?.seq)}>
          {t("olderLog")}
        </button>
      )}
      {events && events.length === 0 && <p class="empty">{t("noLog")}</p>}
      {events && (
        <ol aria-label={t("statusLog")}>
          {events.map((e) => (
            <li key={e.seq} data-seq={e.seq} data-kind={e.kind}>
              <span>{e.text}</span>
              <time dateTime={e.createdAt}>
                {new Date(e.createdAt).toLocaleString(t.locale, { dateStyle: "short", timeStyle: "short" })}
              </time>
            </li>
          ))}
        </ol>
      )}
    </details>
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
