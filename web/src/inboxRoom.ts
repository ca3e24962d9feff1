import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { CloseCode, type InboxView } from "../../client/index.ts";
import { type Job, publishJob } from "./adminApi.ts";
import {
  ApiError,
  type ListDelta,
  listNotices,
  markAllNoticesRead,
  type Notice,
  openInbox,
  currentSession as session,
  signOut,
  type View,
} from "./api.ts";

export interface ListSubscriber {
  delta: (d: ListDelta) => void;
  /** `list_reset` (§8.3), or a (re)join: reload the pages of these views. */
  reset: (views: View[]) => void;
}

export interface InboxRoomState {
  counts: Record<string, number>;
  teamView: boolean;
  unreadNotices: number;
  notices: Notice[];
  toasts: Notice[];
  error: string | null;
  /** The live connection is being joined again. */
  reconnecting: boolean;
  /** The typed client's inbox view while joined (its events: `notice`, `list`, `listReset`, `job`, …). */
  view: InboxView | null;
  subscribe: (s: ListSubscriber) => () => void;
  dismiss: (id: Notice["id"]) => void;
  readAll: () => void;
}

const TOAST_MS = 8000;

/**
 * The member's inbox room (docs/protocol.md §3, §8) through the typed client's `InboxView`: counts,
 * notices, and list deltas to subscribers. The view reconnects and rejoins by itself and asks for a
 * reload of the lists afterwards (`listReset`, §8.7); when it gives up, the console joins anew.
 */
export function useInboxRoom(memberId: string): InboxRoomState {
  const [counts, setCounts] = useState<Record<string, number>>({});
  const [teamView, setTeamView] = useState(false);
  const [unreadNotices, setUnread] = useState(0);
  const [notices, setNotices] = useState<Notice[]>([]);
  const [toasts, setToasts] = useState<Notice[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [view, setView] = useState<InboxView | null>(null);
  const subscribers = useRef(new Set<ListSubscriber>());
  const [attempt, setAttempt] = useState(0);
  const [reconnecting, setReconnecting] = useState(false);
  const failures = useRef(0);

  const addNotices = useCallback((incoming: Notice[]) => {
    setNotices((held) => {
      const seen = new Set(held.map((n) => n.id)); // delivery is at least once: de-duplicate on id
      const fresh = incoming.filter((n) => !seen.has(n.id));
      return [...fresh, ...held].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
    });
  }, []);

  useEffect(() => {
    let inbox: InboxView | null = null;
    let gone = false;
    const timers = new Set<ReturnType<typeof setTimeout>>();
    const later = (fn: () => void, ms: number) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        fn();
      }, ms);
      timers.add(timer);
    };
    const joinAgain = () => {
      failures.current += 1;
      setReconnecting(true);
      later(() => setAttempt((n) => n + 1), Math.min(15_000, 500 * 2 ** failures.current));
    };
    (async () => {
      try {
        inbox = await openInbox();
        failures.current = 0;
        setReconnecting(false);
      } catch (err) {
        if (gone) return;
        const retry = !(err instanceof ApiError) || err.status >= 500 || /seat reservation/i.test(err.message);
        if (retry && session()) joinAgain();
        else setError(err instanceof ApiError ? err.message : String(err));
        return;
      }
      if (gone) {
        void inbox.leave();
        return;
      }
      const joined = inbox;
      setView(joined);
      const read = () => {
        setCounts(joined.counts());
        setTeamView(joined.state.teamView);
        setUnread(joined.state.unreadNotices);
      };
      read();
      joined.on("change", read);
      joined.on("list", (d) => {
        for (const s of subscribers.current) s.delta(d);
      });
      joined.on("listReset", (m) => {
        for (const s of subscribers.current) s.reset(m.views);
      });
      joined.on("notice", (n) => {
        addNotices([n]);
        setToasts((held) => (held.some((h) => h.id === n.id) ? held : [...held, n]));
        later(() => setToasts((held) => held.filter((h) => h.id !== n.id)), TOAST_MS);
      });
      joined.on("job", (j: Job) => publishJob(j)); // bulk jobs' progress (§7.5), read by bulk.tsx
      joined.on("drop", () => setReconnecting(true));
      joined.on("reconnected", () => {
        setError(null);
        setReconnecting(false);
        read();
      });
      joined.on("closed", (code) => {
        if (gone) return;
        setView(null);
        if (code === CloseCode.deactivated) {
          signOut(); // §2.6
          return;
        }
        if (code === 1000 || code === 4000) return;
        // The view gave up rejoining (the server stayed away): join anew with a backoff.
        setError(null);
        joinAgain();
      });
      // Pages loaded before the join missed deltas: reload them (§8.7).
      for (const s of subscribers.current) s.reset(["mine", "team"]);
      listNotices()
        .then((page) => addNotices(page.items))
        .catch(() => {});
    })();
    return () => {
      gone = true;
      for (const timer of timers) clearTimeout(timer);
      if (inbox) void inbox.leave();
      setView(null);
    };
  }, [memberId, addNotices, attempt]);

  const subscribe = useCallback((s: ListSubscriber) => {
    subscribers.current.add(s);
    return () => {
      subscribers.current.delete(s);
    };
  }, []);
  const dismiss = useCallback((id: Notice["id"]) => setToasts((held) => held.filter((n) => n.id !== id)), []);
  const readAll = useCallback(() => {
    markAllNoticesRead()
      .then(() => setNotices((held) => held.map((n) => (n.readAt ? n : { ...n, readAt: new Date().toISOString() }))))
      .catch(() => {});
  }, []);
  return { counts, teamView, unreadNotices, notices, toasts, error, reconnecting, view, subscribe, dismiss, readAll };
}
