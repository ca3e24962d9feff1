/**
 * A workspace's business hours (R13.1's away messages): an IANA time zone and weekly open
 * intervals in that zone's wall-clock time. Pure: the instant to judge comes in as an argument.
 *
 * Wall-clock time is used as written: "mon 09:00–18:00 in Asia/Taipei" is open whenever a clock in
 * Taipei shows Monday between 09:00 and 18:00. Across a daylight-saving change the hour that does
 * not exist is never open or closed twice, and the hour that repeats is judged by its wall clock.
 */

export const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** `start` inclusive, `end` exclusive, both "HH:MM" (00:00–24:00), `start` < `end`. */
export type OpenInterval = {
  readonly day: Weekday;
  readonly start: string;
  readonly end: string;
};

export type BusinessHours = {
  /** An IANA time zone name, e.g. `Asia/Taipei`. */
  readonly timeZone: string;
  /** When the business is open; empty = always open (no away message). */
  readonly open: OpenInterval[];
};

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;

/** "HH:MM" → minutes since midnight, or null when not a time of day (24:00 is allowed: the end of a day). */
export function minutesOf(hhmm: string): number | null {
  const m = /^([01]\d|2[0-4]):([0-5]\d)$/.exec(hhmm);
  if (!m) return null;
  const minutes = Number(m[1]) * 60 + Number(m[2]);
  return minutes <= 24 * 60 ? minutes : null;
}

/** True when `name` is a time zone this runtime knows (Intl accepts it). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/**
 * The wall-clock time `at` shows in `timeZone`, as milliseconds of a UTC date with the same
 * fields (so `getUTCDay()` is the local weekday and arithmetic is in local days).
 */
export function wallClock(at: Date, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatterOf(timeZone).formatToParts(at)) if (p.type !== "literal") parts[p.type] = Number(p.value);
  return Date.UTC(parts.year ?? 1970, (parts.month ?? 1) - 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0);
}

/** The open intervals as [start, end) minutes of the week (Sunday 00:00 = 0). */
function weekMinutes(hours: BusinessHours): [number, number][] {
  const out: [number, number][] = [];
  for (const i of hours.open) {
    const start = minutesOf(i.start);
    const end = minutesOf(i.end);
    if (start === null || end === null || end <= start) continue; // refused at save time; ignored if stored anyway
    const day = WEEKDAYS.indexOf(i.day) * 1440;
    out.push([day + start, day + end]);
  }
  return out;
}

/** True when there is no schedule (always open) or `at` falls in an open interval. */
export function isOpenAt(hours: BusinessHours | null, at: Date): boolean {
  if (!hours || hours.open.length === 0) return true;
  const wall = wallClock(at, hours.timeZone);
  const w = new Date(wall);
  const minute = w.getUTCDay() * 1440 + w.getUTCHours() * 60 + w.getUTCMinutes();
  return weekMinutes(hours).some(([s, e]) => minute >= s && minute < e);
}

/**
 * True when the business was open at some moment in (`from`, `to`]: the two instants then lie in
 * different closed periods. Judged on wall-clock minutes; with no schedule, always true.
 */
export function openBetween(hours: BusinessHours | null, from: Date, to: Date): boolean {
  if (!hours || hours.open.length === 0) return true;
  const a = wallClock(from, hours.timeZone);
  const b = wallClock(to, hours.timeZone);
  if (b <= a) return false;
  const intervals = weekMinutes(hours);
  if (intervals.length === 0) return false;
  if (b - a >= WEEK_MS) return true;
  // Every week containing part of (a, b]: an interval of that week overlapping it means open.
  const sundayOf = (ms: number) => ms - new Date(ms).getUTCDay() * DAY_MS - (ms % DAY_MS);
  for (let week = sundayOf(a); week <= b; week += WEEK_MS) {
    for (const [s, e] of intervals) {
      const start = week + s * 60_000;
      const end = week + e * 60_000;
      if (start <= b && end > a) return true;
    }
  }
  return false;
}
