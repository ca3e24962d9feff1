import type { Action } from "./actions.ts";
import { assertNever } from "./sets.ts";

/**
 * The members an action names (its targets), whose role and status `decide()` needs in its
 * context (`DecideContext.members`). Every action type is listed, so a new one must say.
 */
export function targetIdsOf(action: Action): string[] {
  switch (action.type) {
    case "add_collaborators":
    case "remove_collaborators":
      return [...action.memberIds];
    case "transfer":
    case "member_departed":
      return [action.memberId];
    case "reply":
    case "join":
    case "leave":
    case "take_over":
    case "close":
    case "reopen":
    case "pin":
    case "unpin":
    case "mark_read":
    case "customer_message":
    case "auto_close_remind":
    case "auto_close":
    case "omo_binding":
    case "send_csat":
    case "triggered":
      return [];
    default:
      return assertNever(action);
  }
}
