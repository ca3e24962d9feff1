/** The console's own words in zh-TW and English (texts from the server already come localized). */
import type { Locale } from "./api.ts";

const en = {
  title: "Inbox",
  email: "Email",
  password: "Password",
  signIn: "Sign in",
  signOut: "Sign out",
  signingIn: "Signing in…",
  mine: "Mine",
  team: "Team",
  pending: "Pending",
  in_progress: "In progress",
  closed: "Closed",
  all: "All",
  regular: "1-on-1",
  collaborative: "Collaborative",
  empty: "No conversations here.",
  loading: "Loading…",
  more: "Load more",
  notices: "Notices",
  noNotices: "No notices.",
  markAllRead: "Mark all read",
  pinned: "Pinned",
  unread: "unread",
  follower: "Follower",
  collaborators: "Collaborators",
  nobody: "nobody",
  overdue: "Overdue",
  back: "Back to the inbox",
  reply: "Reply",
  send: "Send",
  replyPlaceholder: "Write a reply…",
  participants: "Participants",
  join: "Join",
  leave: "Leave",
  take_over: "Take over",
  close: "Close",
  reopen: "Reopen",
  pin: "Pin",
  unpin: "Unpin",
  dismiss: "Dismiss",
  connecting: "Connecting…",
  viewClosed: "This conversation is no longer open for you.",
  closed4101: "You were removed from this collaborative conversation.",
  closed4102: "You left this collaborative conversation.",
  closed4103: "The follower closed this conversation.",
  closed4104: "Your account was deactivated.",
  closed4105: "This view is no longer yours.",
  reconnect: "The live connection was lost. Reload the page to reconnect.",
} as const;
export type Key = keyof typeof en;

const zh: Record<Key, string> = {
  title: "收件匣",
  email: "電子郵件",
  password: "密碼",
  signIn: "登入",
  signOut: "登出",
  signingIn: "登入中…",
  mine: "我的",
  team: "團隊",
  pending: "待處理",
  in_progress: "處理中",
  closed: "已結束",
  all: "全部",
  regular: "一對一",
  collaborative: "協作",
  empty: "這裡沒有對話。",
  loading: "載入中…",
  more: "載入更多",
  notices: "通知",
  noNotices: "沒有通知。",
  markAllRead: "全部標為已讀",
  pinned: "已釘選",
  unread: "未讀",
  follower: "跟進者",
  collaborators: "協作者",
  nobody: "無人",
  overdue: "逾時",
  back: "回到收件匣",
  reply: "回覆",
  send: "送出",
  replyPlaceholder: "輸入回覆…",
  participants: "參與者",
  join: "加入協作",
  leave: "退出協作",
  take_over: "接手跟進",
  close: "結束對話",
  reopen: "重啟對話",
  pin: "釘選",
  unpin: "取消釘選",
  dismiss: "關閉",
  connecting: "連線中…",
  viewClosed: "你已無法再檢視這個對話。",
  closed4101: "你已被退出這個協作對話。",
  closed4102: "你已退出這個協作對話。",
  closed4103: "跟進者已結束這個對話。",
  closed4104: "你的帳號已停用。",
  closed4105: "你已無法再檢視這個對話。",
  reconnect: "即時連線已中斷，請重新整理頁面。",
};

const roles: Record<Locale, Record<string, string>> = {
  "zh-TW": { admin: "管理員", supervisor: "主管", cs_manager: "客服經理", marketing_cs: "行銷客服", agent: "客服" },
  en: { admin: "Admin", supervisor: "Supervisor", cs_manager: "CS Manager", marketing_cs: "Marketing CS", agent: "Agent" },
};

export function localeOf(tag: string | undefined): Locale {
  return tag?.toLowerCase().startsWith("zh") ? "zh-TW" : "en";
}

export function translator(locale: Locale) {
  const words: Record<Key, string> = locale === "zh-TW" ? zh : en;
  const t = (key: Key): string => words[key];
  t.role = (role: string): string => roles[locale][role] ?? role;
  t.locale = locale;
  return t;
}
export type T = ReturnType<typeof translator>;
