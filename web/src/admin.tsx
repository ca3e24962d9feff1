import { useEffect, useRef, useState } from "preact/hooks";
import {
  type AdminMember,
  changeMember,
  changeSettings,
  createMember,
  deactivateMember,
  deleteMember,
  getWorkspace,
  type Job,
  listMembers,
  type MemberChange,
  problem,
  reactivateMember,
  type SettingsChange,
  type Workspace,
  type WorkspaceSettings,
} from "./adminApi.ts";
import type { Locale, Role, Session } from "./api.ts";
import { JobProgress, useJob } from "./bulk.tsx";
import type { T } from "./i18n.ts";

const ROLES: Role[] = ["admin", "supervisor", "cs_manager", "marketing_cs", "agent"];
const LOCALES: Locale[] = ["zh-TW", "en"];
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;

/** `#/admin`: member administration (§7.6) and workspace settings (§7.7), for admins only. */
export function AdminScreen({ t, session }: { t: T; session: Session }) {
  if (session.member.role !== "admin") {
    return (
      <main class="admin">
        <h1>{t("admin")}</h1>
        <p role="alert" class="error">
          {t("adminOnly")}
        </p>
      </main>
    );
  }
  return (
    <main class="admin">
      <h1>{t("admin")}</h1>
      <Members t={t} selfId={session.member.id} />
      <Settings t={t} />
    </main>
  );
}

function Members({ t, selfId }: { t: T; selfId: string }) {
  const [members, setMembers] = useState<AdminMember[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  // A departure (deactivate, delete) is a job: followed live like a bulk action (§7.6, §7.5).
  const departure = useJob();
  useEffect(() => {
    let gone = false;
    listMembers()
      .then((items) => !gone && setMembers(items))
      .catch((err) => !gone && setError(problem(err)));
    return () => {
      gone = true;
    };
  }, [reload]);
  /** Runs one change: its refusal is shown by its message; the list is read again either way. */
  const run = async (what: () => Promise<unknown>, done: string) => {
    setError(null);
    setNote(null);
    try {
      await what();
      setNote(done);
      return true;
    } catch (err) {
      setError(problem(err));
      return false;
    } finally {
      setReload((n) => n + 1);
    }
  };
  return (
    <section aria-labelledby="admin-members">
      <h2 id="admin-members">{t("members")}</h2>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {note && (
        <p role="status" class="note">
          {note}
        </p>
      )}
      {departure.job && <JobProgress t={t} job={departure.job} final={departure.final} names={new Map()} dismiss={departure.reset} />}
      <NewMemberForm t={t} run={run} />
      {!members ? (
        <p>{t("loading")}</p>
      ) : (
        <ul class="members" aria-label={t("members")}>
          {members.map((m) => (
            <MemberRow key={m.id} t={t} m={m} self={m.id === selfId} run={run} track={departure.track} />
          ))}
        </ul>
      )}
    </section>
  );
}

type Run = (what: () => Promise<unknown>, done: string) => Promise<boolean>;

function NewMemberForm({ t, run }: { t: T; run: Run }) {
  const blank = { email: "", name: "", role: "agent" as Role, locale: "zh-TW" as Locale, password: "" };
  const [form, setForm] = useState(blank);
  const submit = async (e: Event) => {
    e.preventDefault();
    const ok = await run(
      () =>
        createMember({ email: form.email.trim(), name: form.name.trim(), role: form.role, locale: form.locale, password: form.password }),
      t("memberCreated").replace("{name}", form.name.trim()),
    );
    if (ok) setForm(blank);
  };
  return (
    <details class="new-member">
      <summary>{t("addMember")}</summary>
      <form onSubmit={submit} noValidate aria-label={t("addMember")}>
        <label>
          {t("email")}
          <input type="email" name="email" value={form.email} onInput={(e) => setForm({ ...form, email: e.currentTarget.value })} />
        </label>
        <label>
          {t("name")}
          <input name="name" value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} />
        </label>
        <RoleSelect t={t} value={form.role} onChange={(role) => setForm({ ...form, role })} />
        <LocaleSelect t={t} value={form.locale} onChange={(locale) => setForm({ ...form, locale })} />
        <label>
          {t("password")}
          <input
            type="password"
            name="new-password"
            autoComplete="new-password"
            value={form.password}
            onInput={(e) => setForm({ ...form, password: e.currentTarget.value })}
          />
        </label>
        <button type="submit">{t("create")}</button>
      </form>
    </details>
  );
}

function RoleSelect({ t, value, onChange, disabled }: { t: T; value: Role; onChange: (r: Role) => void; disabled?: boolean }) {
  return (
    <label>
      {t("role")}
      <select name="role" value={value} disabled={disabled} onChange={(e) => onChange(e.currentTarget.value as Role)}>
        {ROLES.map((r) => (
          <option key={r} value={r}>
            {t.role(r)}
          </option>
        ))}
      </select>
    </label>
  );
}
function LocaleSelect({ t, value, onChange }: { t: T; value: Locale; onChange: (l: Locale) => void }) {
  return (
    <label>
      {t("language")}
      <select name="locale" value={value} onChange={(e) => onChange(e.currentTarget.value as Locale)}>
        {LOCALES.map((l) => (
          <option key={l} value={l}>
            {l === "en" ? "English" : "繁體中文"}
          </option>
        ))}
      </select>
    </label>
  );
}

type Confirmable = "deactivate" | "reactivate" | "delete";

function MemberRow({ t, m, self, run, track }: { t: T; m: AdminMember; self: boolean; run: Run; track: (job: Job) => void }) {
  const [editing, setEditing] = useState(false);
  const [form, setForm] = useState({ name: m.name, role: m.role, locale: m.locale });
  const [confirming, setConfirming] = useState<Confirmable | null>(null);
  const confirmButton = useRef<HTMLButtonElement>(null);
  useEffect(() => confirmButton.current?.focus(), [confirming]); // the question asked, the keyboard is on its answer
  useEffect(() => setForm({ name: m.name, role: m.role, locale: m.locale }), [m.name, m.role, m.locale]);
  const save = async (e: Event) => {
    e.preventDefault();
    const change: MemberChange = {};
    if (form.name !== m.name) change.name = form.name.trim();
    if (form.role !== m.role) change.role = form.role;
    if (form.locale !== m.locale) change.locale = form.locale;
    if (await run(() => changeMember(m.id, change), t("memberSaved").replace("{name}", form.name.trim()))) setEditing(false);
  };
  const act = (what: Confirmable) => {
    setConfirming(null);
    const call =
      what === "reactivate"
        ? () => reactivateMember(m.id)
        : async () => track(await (what === "deactivate" ? deactivateMember : deleteMember)(m.id));
    void run(call, t(`done_${what}`).replace("{name}", m.name));
  };
  const deleted = m.status === "deleted";
  return (
    <li class={`member ${m.status}`} data-member={m.id}>
      <div class="line">
        <strong>{m.name}</strong>
        <span class="email">{m.email}</span>
        <span class="role">{t.role(m.role)}</span>
        <span class="locale">{m.locale}</span>
        <span class={`tag status-${m.status}`} data-status={m.status}>
          {t(`member_${m.status}`)}
        </span>
      </div>
      {!deleted && (
        <div class="row actions">
          <button type="button" data-admin="edit" aria-expanded={editing} onClick={() => setEditing(!editing)}>
            {t("edit")}
          </button>
          {!self && m.status === "active" && (
            <button type="button" data-admin="deactivate" onClick={() => setConfirming("deactivate")}>
              {t("deactivate")}
            </button>
          )}
          {!self && m.status === "deactivated" && (
            <button type="button" data-admin="reactivate" onClick={() => setConfirming("reactivate")}>
              {t("reactivate")}
            </button>
          )}
          {!self && (
            <button type="button" data-admin="delete" class="danger" onClick={() => setConfirming("delete")}>
              {t("delete")}
            </button>
          )}
        </div>
      )}
      {confirming && (
        <div class="confirm" role="alertdialog" aria-label={t(`confirm_${confirming}`).replace("{name}", m.name)}>
          <span>{t(`confirm_${confirming}`).replace("{name}", m.name)}</span>
          <button
            type="button"
            data-confirm="yes"
            class={confirming === "delete" ? "danger" : ""}
            onClick={() => act(confirming)}
            ref={confirmButton}
          >
            {t(confirming)}
          </button>
          <button type="button" data-confirm="no" onClick={() => setConfirming(null)}>
            {t("cancel")}
          </button>
        </div>
      )}
      {editing && (
        <form class="edit-member" onSubmit={save} noValidate aria-label={`${t("edit")} ${m.name}`}>
          <label>
            {t("name")}
            <input name="name" value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} />
          </label>
          <RoleSelect t={t} value={form.role} disabled={self} onChange={(role) => setForm({ ...form, role })} />
          <LocaleSelect t={t} value={form.locale} onChange={(locale) => setForm({ ...form, locale })} />
          <button type="submit">{t("save")}</button>
        </form>
      )}
    </li>
  );
}

interface SettingsForm {
  csatOnClose: boolean;
  overdueAfterMinutes: string;
  autoCloseAfterMinutes: string;
  autoCloseReminderText: string;
  autoCloseGraceMinutes: string;
  timeZone: string;
  open: { day: (typeof DAYS)[number]; start: string; end: string }[];
  awayText: string;
  welcomeText: string;
  keywordRules: { keyword: string; memberId: string }[];
}
function toForm(s: WorkspaceSettings): SettingsForm {
  return {
    csatOnClose: s.csatOnClose,
    overdueAfterMinutes: String(s.overdueAfterMinutes),
    autoCloseAfterMinutes: String(s.autoCloseAfterMinutes),
    autoCloseReminderText: s.autoCloseReminderText,
    autoCloseGraceMinutes: String(s.autoCloseGraceMinutes),
    timeZone: s.businessHours?.timeZone ?? "",
    open: s.businessHours?.open.map((i) => ({ ...i })) ?? [],
    awayText: s.awayText,
    welcomeText: s.welcomeText,
    keywordRules: s.keywordRules.map((r) => ({ ...r })),
  };
}
/** A number field as typed: a number when it reads as one, else the text itself, for the server to refuse by its message. */
const num = (v: string): number => (v.trim() === "" ? Number.NaN : Number(v));
function fromForm(f: SettingsForm): SettingsChange {
  return {
    csatOnClose: f.csatOnClose,
    overdueAfterMinutes: num(f.overdueAfterMinutes),
    autoCloseAfterMinutes: num(f.autoCloseAfterMinutes),
    autoCloseReminderText: f.autoCloseReminderText,
    autoCloseGraceMinutes: num(f.autoCloseGraceMinutes),
    businessHours: f.timeZone.trim() || f.open.length ? { timeZone: f.timeZone.trim(), open: f.open } : null,
    awayText: f.awayText,
    welcomeText: f.welcomeText,
    keywordRules: f.keywordRules,
  };
}

function Settings({ t }: { t: T }) {
  const [workspace, setWorkspace] = useState<Workspace | null>(null);
  const [form, setForm] = useState<SettingsForm | null>(null);
  const [members, setMembers] = useState<AdminMember[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    getWorkspace()
      .then((w) => {
        setWorkspace(w);
        setForm(toForm(w.settings));
      })
      .catch((err) => setError(problem(err)));
    listMembers()
      .then((items) => setMembers(items.filter((m) => m.status === "active")))
      .catch(() => {});
  }, []);
  if (!form) {
    return (
      <section aria-labelledby="admin-settings">
        <h2 id="admin-settings">{t("settings")}</h2>
        {error ? (
          <p role="alert" class="error">
            {error}
          </p>
        ) : (
          <p>{t("loading")}</p>
        )}
      </section>
    );
  }
  const set = (patch: Partial<SettingsForm>) => {
    setSaved(false);
    setForm({ ...form, ...patch });
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      // A number field left as text is sent as typed (NaN is not JSON): the server's message says what is wrong.
      const body = JSON.parse(
        JSON.stringify(fromForm(form), (_, v) => (typeof v === "number" && Number.isNaN(v) ? "" : v)),
      ) as SettingsChange;
      const w = await changeSettings(body);
      setWorkspace(w);
      setForm(toForm(w.settings));
      setSaved(true);
    } catch (err) {
      setError(problem(err));
    } finally {
      setBusy(false);
    }
  };
  const numberField = (key: "overdueAfterMinutes" | "autoCloseAfterMinutes" | "autoCloseGraceMinutes", min: number, max: number) => (
    <label>
      {t(key)}
      <input
        type="number"
        name={key}
        inputMode="numeric"
        min={min}
        max={max}
        value={form[key]}
        onInput={(e) => set({ [key]: e.currentTarget.value })}
      />
    </label>
  );
  const textField = (key: "autoCloseReminderText" | "awayText" | "welcomeText") => (
    <label>
      {t(key)}
      <textarea name={key} rows={2} value={form[key]} onInput={(e) => set({ [key]: e.currentTarget.value })} />
    </label>
  );
  return (
    <section aria-labelledby="admin-settings">
      <h2 id="admin-settings">
        {t("settings")} {workspace && <span class="hint-text">{workspace.name}</span>}
      </h2>
      <form class="settings" onSubmit={submit} noValidate aria-label={t("settings")}>
        <label class="check">
          <input
            type="checkbox"
            name="csatOnClose"
            checked={form.csatOnClose}
            onChange={(e) => set({ csatOnClose: e.currentTarget.checked })}
          />
          {t("csatOnClose")}
        </label>
        {numberField("overdueAfterMinutes", 1, 10080)}
        {numberField("autoCloseAfterMinutes", 0, 525600)}
        {numberField("autoCloseGraceMinutes", 0, 10080)}
        {textField("autoCloseReminderText")}
        <fieldset>
          <legend>{t("businessHours")}</legend>
          <label>
            {t("timeZone")}
            <input
              name="timeZone"
              placeholder="Asia/Taipei"
              value={form.timeZone}
              onInput={(e) => set({ timeZone: e.currentTarget.value })}
            />
          </label>
          {form.open.map((interval, i) => (
            <div class="row interval" key={i}>
              <select
                aria-label={t("day")}
                value={interval.day}
                onChange={(e) =>
                  set({ open: form.open.map((x, j) => (j === i ? { ...x, day: e.currentTarget.value as (typeof DAYS)[number] } : x)) })
                }
              >
                {DAYS.map((d) => (
                  <option key={d} value={d}>
                    {t(`day_${d}`)}
                  </option>
                ))}
              </select>
              <input
                aria-label={t("opens")}
                value={interval.start}
                placeholder="09:00"
                onInput={(e) => set({ open: form.open.map((x, j) => (j === i ? { ...x, start: e.currentTarget.value } : x)) })}
              />
              <input
                aria-label={t("closes")}
                value={interval.end}
                placeholder="18:00"
                onInput={(e) => set({ open: form.open.map((x, j) => (j === i ? { ...x, end: e.currentTarget.value } : x)) })}
              />
              <button type="button" aria-label={t("remove")} onClick={() => set({ open: form.open.filter((_, j) => j !== i) })}>
                ×
              </button>
            </div>
          ))}
          <button type="button" onClick={() => set({ open: [...form.open, { day: "mon", start: "09:00", end: "18:00" }] })}>
            {t("addInterval")}
          </button>
        </fieldset>
        {textField("awayText")}
        {textField("welcomeText")}
        <fieldset>
          <legend>{t("keywordRules")}</legend>
          {form.keywordRules.map((rule, i) => (
            <div class="row rule" key={i}>
              <input
                aria-label={t("keyword")}
                value={rule.keyword}
                onInput={(e) =>
                  set({ keywordRules: form.keywordRules.map((x, j) => (j === i ? { ...x, keyword: e.currentTarget.value } : x)) })
                }
              />
              <select
                aria-label={t("assignTo")}
                value={rule.memberId}
                onChange={(e) =>
                  set({ keywordRules: form.keywordRules.map((x, j) => (j === i ? { ...x, memberId: e.currentTarget.value } : x)) })
                }
              >
                {!members.some((m) => m.id === rule.memberId) && <option value={rule.memberId}>{rule.memberId || "—"}</option>}
                {members.map((m) => (
                  <option key={m.id} value={m.id}>
                    {m.name}
                  </option>
                ))}
              </select>
              <button
                type="button"
                aria-label={t("remove")}
                onClick={() => set({ keywordRules: form.keywordRules.filter((_, j) => j !== i) })}
              >
                ×
              </button>
            </div>
          ))}
          <button
            type="button"
            onClick={() => set({ keywordRules: [...form.keywordRules, { keyword: "", memberId: members[0]?.id ?? "" }] })}
          >
            {t("addRule")}
          </button>
        </fieldset>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        {saved && (
          <p role="status" class="note">
            {t("saved")}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {t("save")}
        </button>
      </form>
    </section>
  );
}
