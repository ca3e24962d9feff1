import { describe, expect, it } from "vitest";
import { ERROR_CODES, ErrorCode } from "../../domain/errors.ts";
import { type LogEvent, LogKind, NoticeKind, type SystemMessage, SystemKind } from "../../domain/events.ts";
import { LOCALES, type Locale, ROLES, Role } from "../../domain/sets.ts";
import { type NameOf, ROLE_NAMES, renderError, renderLog, renderNotice, renderSystem } from "../../domain/texts.ts";
import { act, asMember, collaborative, conversation, names, run } from "./fixtures.ts";

const zh = "zh-TW" as const;
const en = "en" as const;
const CJK = /[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]/;

const N: NameOf = (id) => ({ j: "Jess", a: "Jess A", b: "Jess B", c: "Jess C", d: "Jess D", e: "Jess E", amy: "Amy" })[id ?? ""] ?? "?";

/** One sample of every text, in a locale: log lines (one and several targets), system messages, notices, errors. */
function everyText(locale: Locale): Map<string, string> {
  const out = new Map<string, string>();
  for (const kind of Object.values(LogKind)) {
    out.set(`log:${kind}:1`, renderLog({ kind, actorId: "j", targetIds: ["a"] }, locale, N));
    out.set(`log:${kind}:2`, renderLog({ kind, actorId: "j", targetIds: ["a", "b"] }, locale, N));
  }
  for (const kind of Object.values(SystemKind)) {
    out.set(`system:${kind}:1`, renderSystem({ kind, subjectIds: ["a"] }, locale, N));
    out.set(`system:${kind}:5`, renderSystem({ kind, subjectIds: ["a", "b", "c", "d", "e"] }, locale, N));
  }
  for (const kind of Object.values(NoticeKind)) {
    out.set(`notice:${kind}`, renderNotice({ kind, actorName: "Jess", actorRole: Role.admin, customerName: "Jess B" }, locale));
  }
  for (const code of ERROR_CODES) out.set(`error:${code}`, renderError(code, locale));
  return out;
}

describe("zh-TW texts, character for character", () => {
  const log = (e: LogEvent) => renderLog(e, zh, N);
  const sys = (m: SystemMessage) => renderSystem(m, zh, N);
  const notice = (kind: NoticeKind, actorRole: Role | null = Role.admin, customerName = "Jess B") =>
    renderNotice({ kind, actorName: "Jess", actorRole, customerName }, zh);

  it("[R2.5] `Jess 將 Jess A、Jess B 加入了協作對話`", () => {
    expect(log({ kind: LogKind.collaborators_added, actorId: "j", targetIds: ["a", "b"] })).toBe("Jess 將 Jess A、Jess B 加入了協作對話");
    expect(log({ kind: LogKind.collaborators_added, actorId: "j", targetIds: ["a", "b", "c"] })).toBe(
      "Jess 將 Jess A、Jess B、Jess C 加入了協作對話",
    );
  });

  it("[R2.6] `Jess 加入了協作對話` and `Jess 與其他 4 人加入了協作對話`", () => {
    expect(sys({ kind: SystemKind.members_joined, subjectIds: ["j"] })).toBe("Jess 加入了協作對話");
    expect(sys({ kind: SystemKind.members_joined, subjectIds: ["j", "a", "b", "c", "d"] })).toBe("Jess 與其他 4 人加入了協作對話");
    expect(sys({ kind: SystemKind.members_joined, subjectIds: ["j", "a"] })).toBe("Jess 與其他 1 人加入了協作對話");
  });

  it("[R2.7] `Jess (管理員) 將你加入 Jess B 的協作對話`", () => {
    expect(notice(NoticeKind.added_you)).toBe("Jess (管理員) 將你加入 Jess B 的協作對話");
  });

  it("[R2.7] {actorRole} is the role's Chinese name from the table", () => {
    const expected: Record<Role, string> = {
      admin: "管理員",
      supervisor: "主管",
      cs_manager: "客服經理",
      marketing_cs: "行銷客服",
      agent: "客服",
    };
    for (const role of ROLES) {
      expect(ROLE_NAMES[zh][role]).toBe(expected[role]);
      expect(notice(NoticeKind.added_you, role)).toBe(`Jess (${expected[role]}) 將你加入 Jess B 的協作對話`);
    }
  });

  it("[R3.3] `Jess A 退出了協作對話` and `Jess 將 Jess A、Jess B 退出了協作對話`", () => {
    expect(log({ kind: LogKind.collaborators_removed, actorId: "j", targetIds: ["a"] })).toBe("Jess A 退出了協作對話");
    expect(log({ kind: LogKind.collaborators_removed, actorId: "j", targetIds: ["a", "b"] })).toBe("Jess 將 Jess A、Jess B 退出了協作對話");
  });

  it("[R3.4] `Jess 退出了協作對話` and `Jess 與其他 4 人退出了協作對話`", () => {
    expect(sys({ kind: SystemKind.members_left, subjectIds: ["j"] })).toBe("Jess 退出了協作對話");
    expect(sys({ kind: SystemKind.members_left, subjectIds: ["j", "a", "b", "c", "d"] })).toBe("Jess 與其他 4 人退出了協作對話");
  });

  it("[R3.5] `Jess (管理員) 將你退出 customer 的協作對話`", () => {
    expect(notice(NoticeKind.removed_you, Role.admin, "customer")).toBe("Jess (管理員) 將你退出 customer 的協作對話");
    expect(notice(NoticeKind.removed_you, Role.marketing_cs, "customer")).toBe("Jess (行銷客服) 將你退出 customer 的協作對話");
  });

  it("[R4.3] `Jess 加入了協作對話` in the log", () => {
    expect(log({ kind: LogKind.joined, actorId: "j", targetIds: [] })).toBe("Jess 加入了協作對話");
  });

  it("[R5.2] `Jess 退出了協作對話` in the log", () => {
    expect(log({ kind: LogKind.left, actorId: "j", targetIds: [] })).toBe("Jess 退出了協作對話");
  });

  it("[R5.3] `已退出 customer 的協作對話`", () => {
    expect(notice(NoticeKind.you_left, Role.agent, "customer")).toBe("已退出 customer 的協作對話");
  });

  it("[R6.3] `Jess 接手跟進了 Jess A 的對話` and `Jess 跟進了對話`", () => {
    expect(log({ kind: LogKind.took_over, actorId: "j", targetIds: ["a"] })).toBe("Jess 接手跟進了 Jess A 的對話");
    expect(sys({ kind: SystemKind.followed, subjectIds: ["j"] })).toBe("Jess 跟進了對話");
  });

  it("[R6.4] `Jess (管理員) 已接手 1 個你的對話`", () => {
    expect(notice(NoticeKind.took_over_yours)).toBe("Jess (管理員) 已接手 1 個你的對話");
    expect(notice(NoticeKind.took_over_yours, Role.cs_manager)).toBe("Jess (客服經理) 已接手 1 個你的對話");
  });

  it("[R7.3] `Jess 將對話轉給了 Jess A` and `Jess A 跟進了對話`", () => {
    expect(log({ kind: LogKind.transferred, actorId: "j", targetIds: ["a"] })).toBe("Jess 將對話轉給了 Jess A");
    expect(sys({ kind: SystemKind.followed, subjectIds: ["a"] })).toBe("Jess A 跟進了對話");
  });

  it("[R7.4] `Jess (管理員) 已將 1 個對話移轉給你`", () => {
    expect(notice(NoticeKind.transferred_to_you)).toBe("Jess (管理員) 已將 1 個對話移轉給你");
    expect(notice(NoticeKind.transferred_to_you, Role.supervisor)).toBe("Jess (主管) 已將 1 個對話移轉給你");
  });

  it("[R7.5] `協作對話、群組對話無法批量移轉`", () => {
    expect(renderError(ErrorCode.BULK_TRANSFER_COLLABORATIVE, zh)).toBe("協作對話、群組對話無法批量移轉");
  });

  it("[R8.3] `Jess 結束了對話` and `Jess 已將對話結束` (no role)", () => {
    expect(log({ kind: LogKind.closed, actorId: "j", targetIds: [] })).toBe("Jess 結束了對話");
    expect(notice(NoticeKind.closed_by)).toBe("Jess 已將對話結束");
    expect(notice(NoticeKind.closed_by, Role.supervisor)).toBe("Jess 已將對話結束");
  });

  it("[R8.5] `協作者無法結束對話`", () => {
    expect(renderError(ErrorCode.COLLABORATOR_CANNOT_CLOSE, zh)).toBe("協作者無法結束對話");
  });

  it("[R9.4] `Jess 重啟了對話`", () => {
    expect(log({ kind: LogKind.reopened, actorId: "j", targetIds: [] })).toBe("Jess 重啟了對話");
  });

  it("[R14.2] `Jess (停用者) 將 Amy 退出協作對話`", () => {
    expect(log({ kind: LogKind.member_departed, actorId: "j", targetIds: ["amy"] })).toBe("Jess (停用者) 將 Amy 退出協作對話");
  });

  it("[R15.2] `舊版對話不支援協作功能，請到對話 2.0 繼續使用。`, quoted whole with its 。", () => {
    expect(renderError(ErrorCode.LEGACY_COLLABORATIVE, zh)).toBe("舊版對話不支援協作功能，請到對話 2.0 繼續使用。");
  });

  it("texts carry no trailing 。 except R15.2", () => {
    for (const [key, text] of everyText(zh)) {
      if (key === `error:${ErrorCode.LEGACY_COLLABORATIVE}`) continue;
      expect(text.endsWith("。"), `${key}: ${text}`).toBe(false);
    }
  });
});

describe("§16 English texts and rendering on read", () => {
  it("[R16.1] every LogKind, SystemKind, NoticeKind and ErrorCode renders a non-empty text in both locales", () => {
    const expectedKeys = Object.values(LogKind).length * 2 + Object.values(SystemKind).length * 2 + Object.values(NoticeKind).length;
    for (const locale of LOCALES) {
      const texts = everyText(locale);
      expect(texts.size).toBe(expectedKeys + ERROR_CODES.length);
      for (const [key, text] of texts) {
        expect(typeof text, key).toBe("string");
        expect(text.trim().length, key).toBeGreaterThan(0);
        expect(text, key).not.toMatch(/undefined|null|\?/);
      }
    }
  });

  it("[R16.1] zh-TW texts differ from en; en carries no Chinese, zh-TW does", () => {
    const zhTexts = everyText(zh);
    const enTexts = everyText(en);
    for (const [key, zhText] of zhTexts) {
      const enText = enTexts.get(key);
      expect(enText, key).toBeDefined();
      expect(enText, key).not.toBe(zhText);
      expect(zhText, key).toMatch(CJK);
      expect(enText, key).not.toMatch(CJK);
    }
  });

  it("[R16.1] role names exist in both locales and differ", () => {
    for (const role of ROLES) {
      expect(ROLE_NAMES[en][role].length).toBeGreaterThan(0);
      expect(ROLE_NAMES[en][role]).not.toBe(ROLE_NAMES[zh][role]);
      expect(ROLE_NAMES[en][role]).not.toMatch(CJK);
    }
    expect(renderNotice({ kind: NoticeKind.added_you, actorName: "Jess", actorRole: Role.admin, customerName: "Jess B" }, en)).toContain(
      `Jess (${ROLE_NAMES[en].admin})`,
    );
  });

  it("[R16.1] English texts name the same people as the zh-TW ones", () => {
    expect(renderLog({ kind: LogKind.collaborators_added, actorId: "j", targetIds: ["a", "b"] }, en, N)).toMatch(/Jess\b.*Jess A.*Jess B/);
    expect(renderSystem({ kind: SystemKind.members_joined, subjectIds: ["j", "a", "b", "c", "d"] }, en, N)).toMatch(/Jess\b.*\b4\b/);
    expect(renderLog({ kind: LogKind.member_departed, actorId: "j", targetIds: ["amy"] }, en, N)).toMatch(/Jess\b.*Amy/);
  });

  it("[R16.2] events are stored with member ids, not names", () => {
    const d = run(conversation(), act.add("c1", "c2"), asMember("fol"));
    expect(d.log[0]).toEqual({ kind: LogKind.collaborators_added, actorId: "fol", targetIds: ["c1", "c2"] });
    expect(d.system[0]).toEqual({ kind: SystemKind.members_joined, subjectIds: ["c1", "c2"] });
    expect(JSON.stringify([d.log, d.system, d.notices])).not.toMatch(/Jess/);
  });

  it("[R16.2] rendering uses the current name from the lookup: a renamed member shows their new name", () => {
    const d = run(collaborative(["c1", "sup"]), act.takeOver(), asMember("sup"));
    const event = d.log[0]!;
    const system = d.system[0]!;
    expect(renderLog(event, zh, names({ sup: "Sam", fol: "Jess" }))).toBe("Sam 接手跟進了 Jess 的對話");
    expect(renderLog(event, zh, names({ sup: "Samuel", fol: "Jessica" }))).toBe("Samuel 接手跟進了 Jessica 的對話");
    expect(renderSystem(system, zh, names({ sup: "Samuel" }))).toBe("Samuel 跟進了對話");
    expect(renderLog(event, en, names({ sup: "Samuel", fol: "Jessica" }))).toMatch(/Samuel.*Jessica/);
  });

  it("[R16.2] the lookup is asked for the event's ids, actor first and targets in order", () => {
    const asked: (string | null)[] = [];
    const lookup: NameOf = (id) => {
      asked.push(id);
      return `<${id}>`;
    };
    expect(renderLog({ kind: LogKind.collaborators_added, actorId: "x", targetIds: ["y", "z"] }, zh, lookup)).toBe(
      "<x> 將 <y>、<z> 加入了協作對話",
    );
    expect(asked).toEqual(["x", "y", "z"]);
  });
});
