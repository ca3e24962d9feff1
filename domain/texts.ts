import type { ErrorCode } from "./errors.ts";
import { type LogEvent, LogKind, type NoticeKind, type SystemMessage, SystemKind } from "./events.ts";
import { type Locale, type Role, assertNever } from "./sets.ts";

/**
 * Text rendering, on read (R16.2): events are stored structured and become sentences here, in
 * zh-TW exactly as SPEC.md writes them and in English (R16.1). Names are looked up when rendering,
 * so a renamed member shows their current name.
 */
export type NameOf = (memberId: string | null) => string;

export const ROLE_NAMES: Record<Locale, Record<Role, string>> = {
  "zh-TW": { admin: "管理員", supervisor: "主管", cs_manager: "客服經理", marketing_cs: "行銷客服", agent: "客服" },
  en: { admin: "Admin", supervisor: "Supervisor", cs_manager: "CS Manager", marketing_cs: "Marketing CS", agent: "Agent" },
};

function list(locale: Locale, names: readonly string[]): string {
  return names.join(locale === "zh-TW" ? "、" : ", ");
}

/** A status-log line (對話狀態紀錄). */
export function renderLog(e: LogEvent, locale: Locale, nameOf: NameOf): string {
  const actor = nameOf(e.actorId);
  const targets = e.targetIds.map((id) => nameOf(id));
  const zh = locale === "zh-TW";
  switch (e.kind) {
    case LogKind.collaborators_added: // R2.5
      return zh
        ? `${actor} 將 ${list(locale, targets)} 加入了協作對話`
        : `${actor} added ${list(locale, targets)} to the collaborative conversation`;
    case LogKind.collaborators_removed: // R3.3
      if (targets.length === 1) {
        return zh ? `${targets[0]} 退出了協作對話` : `${targets[0]} left the collaborative conversation`;
      }
      return zh
        ? `${actor} 將 ${list(locale, targets)} 退出了協作對話`
        : `${actor} removed ${list(locale, targets)} from the collaborative conversation`;
    case LogKind.joined: // R4.3
      return zh ? `${actor} 加入了協作對話` : `${actor} joined the collaborative conversation`;
    case LogKind.left: // R5.2
      return zh ? `${actor} 退出了協作對話` : `${actor} left the collaborative conversation`;
    case LogKind.took_over: // R6.3
      return zh ? `${actor} 接手跟進了 ${targets[0] ?? ""} 的對話` : `${actor} took over ${targets[0] ?? ""}'s conversation`;
    case LogKind.transferred: // R7.3
      return zh ? `${actor} 將對話轉給了 ${targets[0]}` : `${actor} transferred the conversation to ${targets[0]}`;
    case LogKind.closed: // R8.3
      return zh ? `${actor} 結束了對話` : `${actor} closed the conversation`;
    case LogKind.reopened: // R9.4
      return zh ? `${actor} 重啟了對話` : `${actor} reopened the conversation`;
    case LogKind.member_departed: // R14.2
      return zh
        ? `${actor} (停用者) 將 ${targets[0]} 退出協作對話`
        : `${actor} (deactivating) removed ${targets[0]} from the collaborative conversation`;
    case LogKind.auto_closed: // R13.4: the seed gives no text; written in the style of R8.3's
      return zh ? "系統自動結束了對話（客人逾時未回覆）" : "The system closed the conversation (no customer reply in time)";
    case LogKind.keyword_assigned: // R13.2: the seed gives no text; written in the style of R7.3's
      return zh ? `系統依關鍵字將對話指派給了 ${targets[0] ?? ""}` : `The system assigned the conversation to ${targets[0] ?? ""} by keyword`;
    default:
      return assertNever(e.kind);
  }
}

/** A system message in the timeline (系統訊息). */
export function renderSystem(m: SystemMessage, locale: Locale, nameOf: NameOf): string {
  const first = nameOf(m.subjectIds[0] ?? null);
  const others = m.subjectIds.length - 1;
  const zh = locale === "zh-TW";
  switch (m.kind) {
    case SystemKind.members_joined: // R2.6, R4.3
      if (others === 0) return zh ? `${first} 加入了協作對話` : `${first} joined the collaborative conversation`;
      return zh
        ? `${first} 與其他 ${others} 人加入了協作對話`
        : `${first} and ${others} ${others === 1 ? "other" : "others"} joined the collaborative conversation`;
    case SystemKind.members_left: // R3.4, R5.2
      if (others === 0) return zh ? `${first} 退出了協作對話` : `${first} left the collaborative conversation`;
      return zh
        ? `${first} 與其他 ${others} 人退出了協作對話`
        : `${first} and ${others} ${others === 1 ? "other" : "others"} left the collaborative conversation`;
    case SystemKind.followed: // R6.3, R7.3
      return zh ? `${first} 跟進了對話` : `${first} is now following the conversation`;
    default:
      return assertNever(m.kind);
  }
}

export interface NoticeView {
  readonly kind: NoticeKind;
  readonly actorName: string;
  readonly actorRole: Role | null;
  readonly customerName: string;
}

/** A real-time notification (即時通知). */
export function renderNotice(n: NoticeView, locale: Locale): string {
  const zh = locale === "zh-TW";
  const who = n.actorRole ? `${n.actorName} (${ROLE_NAMES[locale][n.actorRole]})` : n.actorName;
  const customer = n.customerName;
  switch (n.kind) {
    case "added_you": // R2.7
      return zh ? `${who} 將你加入 ${customer} 的協作對話` : `${who} added you to ${customer}'s collaborative conversation`;
    case "removed_you": // R3.5
      return zh
        ? `${who} 將你退出 ${customer} 的協作對話`
        : `${who} removed you from ${customer}'s collaborative conversation`;
    case "you_left": // R5.3
      return zh ? `已退出 ${customer} 的協作對話` : `You left ${customer}'s collaborative conversation`;
    case "took_over_yours": // R6.4
      return zh ? `${who} 已接手 1 個你的對話` : `${who} took over 1 of your conversations`;
    case "transferred_to_you": // R7.4
      return zh ? `${who} 已將 1 個對話移轉給你` : `${who} transferred 1 conversation to you`;
    case "closed_by": // R8.3
      return zh ? `${n.actorName} 已將對話結束` : `${n.actorName} closed the conversation`;
    case "auto_closed": // R13.4: written in the style of R8.3's notice
      return zh ? `${customer} 的對話已由系統自動結束` : `${customer}'s conversation was closed automatically`;
    case "keyword_assigned": // R13.2: written in the style of R7.4's notice
      return zh ? `系統已依關鍵字將 ${customer} 的對話指派給你` : `The system assigned ${customer}'s conversation to you by keyword`;
    default:
      return assertNever(n.kind);
  }
}

const ERROR_TEXTS: Record<ErrorCode, Record<Locale, string>> = {
  INVALID_PAYLOAD: { "zh-TW": "請求格式不正確", en: "The request is malformed" },
  UNKNOWN_ACTION: { "zh-TW": "不支援的動作", en: "Unknown action" },
  TEXT_TOO_LONG: { "zh-TW": "訊息過長", en: "The text is too long" },
  PAYLOAD_TOO_LARGE: { "zh-TW": "請求內容過大", en: "The request is too large" },
  UNAUTHENTICATED: { "zh-TW": "請重新登入", en: "Please sign in again" },
  TOKEN_EXPIRED: { "zh-TW": "登入已逾時，請重新登入", en: "Your session has expired; please sign in again" },
  INVALID_CREDENTIALS: { "zh-TW": "帳號或密碼錯誤", en: "Wrong email or password" },
  MEMBER_INACTIVE: { "zh-TW": "此帳號已停用", en: "This account is deactivated" },
  VIEW_NOT_ALLOWED: { "zh-TW": "你沒有權限查看此對話", en: "You may not open this conversation" },
  NOT_FOUND: { "zh-TW": "找不到資料", en: "Not found" },
  CONVERSATION_CLOSED: { "zh-TW": "對話已結束，請先重啟對話", en: "The conversation is closed; reopen it first" },
  REPLY_NOT_ALLOWED: {
    "zh-TW": "只有跟進者與協作者可以回覆，請先加入協作",
    en: "Only the follower and collaborators may reply; join first",
  },
  MANAGE_NOT_ALLOWED: {
    "zh-TW": "只有跟進者或管理角色的協作者可以編輯協作成員",
    en: "Only the follower or a manager collaborator may change collaborators",
  },
  COLLABORATOR_LIMIT: { "zh-TW": "協作成員最多 5 位", en: "A conversation has at most 5 collaborators" },
  TARGET_NOT_FOUND: { "zh-TW": "找不到此團隊成員", en: "No such member in this workspace" },
  TARGET_INACTIVE: { "zh-TW": "此團隊成員已停用", en: "That member is not active" },
  ALREADY_PARTICIPANT: { "zh-TW": "已是此對話的成員", en: "Already a participant of this conversation" },
  NOT_A_COLLABORATOR: { "zh-TW": "不是此對話的協作者", en: "Not a collaborator of this conversation" },
  JOIN_NOT_ALLOWED: { "zh-TW": "你的角色無法主動加入協作對話", en: "Your role may not join conversations" },
  NO_FOLLOWER: { "zh-TW": "對話尚無跟進者，請先指派", en: "The conversation has no follower; assign it instead" },
  FOLLOWER_CANNOT_LEAVE: {
    "zh-TW": "跟進者無法退出協作對話，請先移轉對話",
    en: "The follower cannot leave; transfer the conversation instead",
  },
  TAKE_OVER_NOT_ALLOWED: {
    "zh-TW": "需成為協作者且為管理角色才可以跟進對話",
    en: "Only a collaborator with a manager role may take over",
  },
  TRANSFER_NOT_ALLOWED: { "zh-TW": "只有跟進者可以移轉對話", en: "Only the follower may transfer the conversation" },
  TRANSFER_TARGET_NOT_COLLABORATOR: {
    "zh-TW": "只能移轉給協作成員",
    en: "A collaborative conversation can only be transferred to one of its collaborators",
  },
  COLLABORATOR_CANNOT_CLOSE: { "zh-TW": "協作者無法結束對話", en: "Collaborators cannot close the conversation" },
  CLOSE_NOT_ALLOWED: { "zh-TW": "只有跟進者可以結束對話", en: "Only the follower may close the conversation" },
  ALREADY_CLOSED: { "zh-TW": "對話已結束", en: "The conversation is already closed" },
  NOT_CLOSED: { "zh-TW": "對話尚未結束", en: "The conversation is not closed" },
  REOPEN_NOT_ALLOWED: { "zh-TW": "你無法重啟此對話", en: "You may not reopen this conversation" },
  PIN_NOT_ALLOWED: { "zh-TW": "你無法釘選此對話", en: "You may not pin this conversation" },
  BULK_TRANSFER_COLLABORATIVE: {
    "zh-TW": "協作對話、群組對話無法批量移轉",
    en: "Collaborative and group conversations cannot be transferred in bulk",
  },
  LEGACY_COLLABORATIVE: {
    "zh-TW": "舊版對話不支援協作功能，請到對話 2.0 繼續使用。",
    en: "Legacy conversations do not support collaboration. Please continue in Conversations 2.0.",
  },
  INVALID_CURSOR: { "zh-TW": "分頁游標無效，請重新載入列表", en: "The page cursor is invalid; reload the list" },
  ROLE_NOT_ALLOWED: { "zh-TW": "你的角色無法執行此操作", en: "Your role may not do this" },
  EMAIL_TAKEN: { "zh-TW": "此電子郵件已被使用", en: "That email is already in use" },
  IDEMPOTENCY_KEY_REUSED: {
    "zh-TW": "此 Idempotency-Key 已用於不同的請求",
    en: "This Idempotency-Key was already used for a different request",
  },
  MEMBER_DELETED: { "zh-TW": "此團隊成員已刪除", en: "That member has been deleted" },
  CANNOT_CHANGE_SELF: { "zh-TW": "無法對自己執行此操作", en: "You cannot do this to your own account" },
  PUSH_NOT_CONFIGURED: { "zh-TW": "此伺服器未設定這種推播", en: "This kind of push is not configured on this server" },
  NOT_FOR_COLLABORATIVE: {
    "zh-TW": "協作對話不支援此功能",
    en: "This is not supported for collaborative conversations",
  },
  TRIGGERED_NOT_SUPPORTED: { "zh-TW": "此渠道不支援這種觸發訊息", en: "This channel does not support this kind of triggered message" },
  SURVEY_ANSWERED: { "zh-TW": "此問卷已填寫過", en: "This survey has already been answered" },
  SURVEY_EXPIRED: { "zh-TW": "此問卷已過期", en: "This survey has expired" },
  VERSION_CONFLICT: { "zh-TW": "對話已被更新，請再試一次", en: "The conversation changed meanwhile; try again" },
  STORAGE_UNAVAILABLE: { "zh-TW": "系統暫時無法儲存，請稍後再試", en: "Storage is unavailable; try again later" },
  SERVICE_UNAVAILABLE: { "zh-TW": "系統暫時無法使用，請稍後再試", en: "The service is temporarily unavailable; try again later" },
  RATE_LIMITED: { "zh-TW": "操作過於頻繁，請稍後再試", en: "Too many requests; slow down" },
  INTERNAL: { "zh-TW": "系統錯誤", en: "Internal error" },
};

export function renderError(code: ErrorCode, locale: Locale): string {
  return ERROR_TEXTS[code][locale];
}

/** What a push (R12.1, issue 11) says: how many customer messages came, from whom, the latest one. */
export interface PushView {
  readonly customerName: string;
  /** Customer messages in this push's window (coalesced: one push per member, conversation and window). */
  readonly count: number;
  /** The latest message, already cut (domain/push.ts `previewOf`). */
  readonly preview: string;
}

/** A push notification's title and body (推播通知). */
export function renderPush(p: PushView, locale: Locale): { title: string; body: string } {
  const zh = locale === "zh-TW";
  const title =
    p.count === 1
      ? zh
        ? `${p.customerName} 傳來新訊息`
        : `New message from ${p.customerName}`
      : zh
        ? `${p.customerName} 傳來 ${p.count} 則新訊息`
        : `${p.count} new messages from ${p.customerName}`;
  return { title, body: p.preview };
}

/**
 * The satisfaction survey's message to the customer (R8.2, R13.1): the customer's language is not
 * known, so both, zh-TW first, then the link. The seed gives no text: written in its style.
 */
export const SURVEY_INVITE: Record<Locale, string> = {
  "zh-TW": "感謝您的詢問！請花一點時間為這次的服務評分：",
  en: "Thank you for contacting us! Please take a moment to rate our service:",
};

export function renderSurveyInvite(url: string): string {
  return `${SURVEY_INVITE["zh-TW"]}\n${SURVEY_INVITE.en}\n${url}`;
}
