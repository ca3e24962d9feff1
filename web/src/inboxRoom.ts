import type { Room } from "@colyseus/sdk";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { type Job, publishJob } from "./adminApi.ts";
import {
  ApiError,
  currentSession as session,
  joinInbox,
  type ListDelta,
  listNotices,
  markAllNoticesRead,
  type Notice,
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
  subscribe: (s: ListSubscriber) => () => void;
  dismiss: (id: string) => void;
  readAll: () => void;
}

const TOAST_MS = 8000;

/** The member's inbox room (docs/protocol.md §3, §8): counts, notices, and list deltas to subscribers. */
export function useInboxRoom(memberId: string): InboxRoomState {
  const [counts, setCounts] = useState<Record<string, number>>({});
  const [teamView, setTeamView] = useState(false);
  const [unreadNotices, setUnread] = useState(0);
  const [notices, setNotices] = useState<Notice[]>([]);
  const [toasts, setToasts] = useState<Notice[]>([]);
  const [error, setError] = useState<string | null>(null);
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
    let room: Room | null = null;
    let gone = false;
    const timers = new Set<ReturnType<typeof setTimeout>>();
    (async () => {
      try {
        room = await joinInbox();
        failures.current = 0;
        setReconnecting(false);
      } catch (err) {
        if (gone) return;
        const retry = !(err instanceof ApiError) || err.status >= 500 || /seat reservation/i.test(err.message);
        if (retry && session()) {
          failures.current += 1;
          setReconnecting(true);
          const timer = setTimeout(() => setAttempt((n) => n + 1), Math.min(15_000, 500 * 2 ** failures.current));
          timers.add(timer);
        } else setError(err instanceof ApiError ? err.message : String(err));
        return;
      }
      if (gone) {
        void room.leave();
        return;
      }
      const read = () => {
        const s = room!.state as { counts: { toJSON(): Record<string, number> }; teamView: boolean; unreadNotices: number };
        setCounts(s.counts.toJSON());
        setTeamView(s.teamView);
        setUnread(s.unreadNotices);
      };
      read();
      room.onStateChange(read);
      room.onMessage("list", (d: ListDelta) => {
        for (const s of subscribers.current) s.delta(d);
      });
      room.onMessage("list_reset", (m: { views: View[] }) => {
        for (const s of subscribers.current) s.reset(m.views);
      });
      room.onMessage("notice", (n: Notice) => {
        addNotices([n]);
        setToasts((held) => (held.some((h) => h.id === n.id) ? held : [...held, n]));
        const timer = setTimeout(() => {
          timers.delete(timer);
          setToasts((held) => held.filter((h) => h.id !== n.id));
        }, TOAST_MS);
        timers.add(timer);
      });
      room.onMessage("job", (j: Job) => publishJob(j)); // bulk jobs' progress (§7.5), read by bulk.tsx
      room.onMessage("result", () => {});
      // The SDK's own reconnection (a dropped network): deltas sent meanwhile are lost, reload (§8.7).
      room.onReconnect(() => {
        for (const s of subscribers.current) s.reset(["mine", "team"]);
      });
      room.onLeave((code) => {
        if (gone) return;
        if (code === 4104) {
          signOut(); // deactivated (§2.6)
          return;
        }
        if (code === 1000 || code === 4000) return;
        // 4106 (server restarting), 4003 (the SDK gave up), 1006, 4001: join again with a backoff (§2.8, §8.7).
        setError(null);
        setReconnecting(true);
        const timer = setTimeout(() => setAttempt((n) => n + 1), Math.min(15_000, 500 * 2 ** failures.current));
        timers.add(timer);
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
      if (room) void room.leave();
    };
  }, [memberId, addNotices, attempt]);

  const subscribe = useCallback((s: ListSubscriber) => {
    subscribers.current.add(s);
    return () => {
      subscribers.current.delete(s);
    };
  }, []);
  const dismiss = useCallback((id: string) => setToasts((held) => held.filter((n) => n.id !== id)), []);
  const readAll = useCallback(() => {
    markAllNoticesRead()
      .then(() => setNotices((held) => held.map((n) => (n.readAt ? n : { ...n, readAt: new Date().toISOString() }))))
      .catch(() => {});
  }, []);
  return { counts, teamView, unreadNotices, notices, toasts, error, reconnecting, subscribe, dismiss, readAll };
}
