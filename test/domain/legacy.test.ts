import { describe, expect, it } from "vitest";
import { ErrorCode as Code } from "../../domain/errors.ts";
import { inLegacyScope, legacyScope, legacyVisible, openLegacy } from "../../domain/legacy.ts";
import { Role, View } from "../../domain/sets.ts";
import { renderError } from "../../domain/texts.ts";
import { collaborative, conversation, refusal } from "./fixtures.ts";

/** The legacy v1 interface (SPEC §15) as pure rules: what its lists hold and what opening answers. */

const agent = { id: "fol", role: Role.agent };
const admin = { id: "adm", role: Role.admin };
const TEAM_VIEWER_ROLES = [Role.admin, Role.supervisor, Role.cs_manager];

describe("R15.1 lists", () => {
  it("[R15.1] a collaborative conversation is never visible; a 1-on-1 (or group without collaborators) is", () => {
    expect(legacyVisible(collaborative(["c1"]))).toBe(false);
    expect(legacyVisible(collaborative(["c1"], { kind: "group" }))).toBe(false);
    expect(legacyVisible(conversation())).toBe(true);
    expect(legacyVisible(conversation({ kind: "group" }))).toBe(true);
  });

  it("[R15.1] every caller's scope excludes collaborative conversations, whatever the role", () => {
    for (const role of Object.values(Role)) {
      const scope = legacyScope({ id: "x", role });
      expect(scope.collaborative).toBe(false);
      expect(inLegacyScope(collaborative(["c1"], { followerId: "x" }), scope)).toBe(false);
      expect(inLegacyScope(conversation({ followerId: "x" }), scope)).toBe(true);
    }
  });

  it("[R15.1] TEAM_VIEWERS list the whole workspace's 1-on-1 conversations; others only the ones they follow", () => {
    for (const role of TEAM_VIEWER_ROLES) {
      const scope = legacyScope({ id: "x", role });
      expect(scope.followerId).toBeNull();
      expect(inLegacyScope(conversation({ followerId: "someone-else" }), scope)).toBe(true);
      expect(inLegacyScope(conversation({ followerId: null, status: "pending" }), scope)).toBe(true);
    }
    for (const role of [Role.marketing_cs, Role.agent]) {
      const scope = legacyScope({ id: "x", role });
      expect(scope.followerId).toBe("x");
      expect(inLegacyScope(conversation({ followerId: "someone-else" }), scope)).toBe(false);
      expect(inLegacyScope(conversation({ followerId: null, status: "pending" }), scope)).toBe(false);
    }
  });

  it("[R15.1] a conversation leaves the scope when it becomes collaborative and comes back when it is 1-on-1 again", () => {
    const scope = legacyScope(agent);
    expect(inLegacyScope(conversation(), scope)).toBe(true);
    expect(inLegacyScope(collaborative(["c1"]), scope)).toBe(false);
    expect(inLegacyScope(collaborative([]), scope)).toBe(true);
  });
});

describe("R15.2 opening", () => {
  it("[R15.2] opening a collaborative conversation answers LEGACY_COLLABORATIVE, for its follower and for a team viewer", () => {
    expect(refusal(() => openLegacy(collaborative(["c1"]), agent))).toBe(Code.LEGACY_COLLABORATIVE);
    expect(refusal(() => openLegacy(collaborative(["c1"]), { id: "c1", role: Role.agent }))).toBe(Code.LEGACY_COLLABORATIVE);
    expect(refusal(() => openLegacy(collaborative(["c1"]), admin))).toBe(Code.LEGACY_COLLABORATIVE);
  });

  it("[R15.2] the refusal's text is the document's, quoted whole with its 。", () => {
    expect(renderError(Code.LEGACY_COLLABORATIVE, "zh-TW")).toBe("舊版對話不支援協作功能，請到對話 2.0 繼續使用。");
  });

  it("[R15.2] a 1-on-1 conversation opens: from mine for its follower, from team for a team viewer", () => {
    expect(openLegacy(conversation(), agent)).toBe(View.mine);
    expect(openLegacy(conversation(), admin)).toBe(View.team);
  });

  it("access comes first: one the caller may not open is VIEW_NOT_ALLOWED, collaborative or not", () => {
    const outsider = { id: "agt", role: Role.agent };
    expect(refusal(() => openLegacy(conversation(), outsider))).toBe(Code.VIEW_NOT_ALLOWED);
    expect(refusal(() => openLegacy(collaborative(["c1"]), outsider))).toBe(Code.VIEW_NOT_ALLOWED);
  });
});
