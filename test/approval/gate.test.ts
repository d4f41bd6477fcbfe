import { afterAll, describe, expect, it } from "vitest";
import { decideApproval } from "../../src/approvals/decisions.js";
import type { AskHuman, HumanAnswer, HumanQuestion } from "../../src/approvals/gate.js";
import { verifyAudit } from "../../src/audit/chain.js";
import type { CallOutcome } from "../../src/guard/guard.js";
import { endSession } from "../../src/guard/sessions.js";
import { type Harness, harness } from "../guard/fixtures/harness.js";
import { removeTempHomes } from "../guard/fixtures/home.js";
import { BASE_POLICY } from "../guard/fixtures/policies.js";

/**
 * The approval gate inside the guard, with real SQLite and policy parsing around fake
 * tools: out-of-band requests and the operator's decision, in-band questions and their
 * answers, what an approval is bound to, expiry, and the caps after a yes.
 */

afterAll(removeTempHomes);

const MINUTE = 60_000;
/**
 * Refunds over $30.00 need a person's yes, the client's user's or the operator's;
 * requests and decisions hold 15 minutes.
 */
const POLICY = `${BASE_POLICY}require_approval_over: 30\napproval_ttl: 15m\napproval_timeout: 1s\napproval_via: either\n`;

const big = (amount = 4_000) => ({ charge: "ch_big", amount, reason: "duplicate" });
const small = (amount: number, charge = "ch_usd") => ({ charge, amount, reason: "duplicate" });

function ok(outcome: CallOutcome) {
  if (!outcome.ok) throw new Error(`expected success, got ${outcome.code}: ${outcome.message}`);
  return outcome;
}

function refused(outcome: CallOutcome, code: string) {
  if (outcome.ok) throw new Error(`expected ${code}, got success: ${outcome.text}`);
  expect(outcome.code, outcome.message).toBe(code);
  return outcome;
}

/** The request id a refusal names. */
function requestId(outcome: CallOutcome): string {
  const id = refused(outcome, "approval_required").message.match(/apr_[0-9a-f]{24}/)?.[0];
  if (!id) throw new Error("no approval id in the refusal");
  return id;
}

const approve = async (h: Harness, id: string, reason?: string) =>
  await decideApproval(h.store, id, { approve: true, by: "cli", reason, now: h.clock.now });
const reject = async (h: Harness, id: string, reason?: string) =>
  await decideApproval(h.store, id, { approve: false, by: "cli", reason, now: h.clock.now });

/** An AskHuman that answers from a script and keeps the questions it was asked. */
function human(...answers: HumanAnswer[]) {
  const questions: HumanQuestion[] = [];
  const ask: AskHuman = async (question) => {
    questions.push(question);
    const answer = answers.shift();
    if (!answer) throw new Error("the person was asked more often than the test expected");
    return answer;
  };
  return { ask, questions };
}

describe("out-of-band approval", () => {
  it("refuses with a request id; once the operator approves, the same call goes through once", async () => {
    const h = await harness(POLICY);
    const first = await h.guard.call("issue_refund", big());
    const id = requestId(first);
    expect(first.ok === false && first.message).toContain(
      "issue_refund of $40.00 needs a person's approval (amounts over $30.00 need a person's approval). Approval request",
    );
    expect(first.ok === false && first.hint).toBe(
      `The operator approves with \`spendguard approve ${id}\` or rejects with \`spendguard reject ${id}\` (or the operator tools approve / reject).`,
    );
    // Asking again before a decision names the same request.
    const again = await h.guard.call("issue_refund", big());
    expect(requestId(again)).toBe(id);
    expect(again.ok === false && again.message).toContain("is still waiting for the operator");
    const [pending] = await h.store.listApprovals({});
    expect(pending).toMatchObject({ id, state: "pending", amount: 4_000, customer: "cus_acme1" });
    expect(pending?.summary).toContain('Agent "support-refunds" asks to run issue_refund');
    expect(pending?.summary).toContain("Amount: $40.00");
    expect(pending?.summary).toContain("Arguments: charge ch_big, amount 4000, reason duplicate");
    expect(pending?.summary).toContain(
      "Caps before this call: $250.00 left of the $250.00 session cap, $1,000.00 left of the $1,000.00 daily cap.",
    );
    expect(h.world.writesOf("issue_refund")).toHaveLength(0);

    expect(await approve(h, id, "customer called")).toMatchObject({ ok: true });
    const done = ok(await h.guard.call("issue_refund", big()));
    expect(done.text).toContain(`(Approved by a person: ${id}.)`);
    expect(h.world.writesOf("issue_refund")).toHaveLength(1);
    const [admission] = await h.store.listAdmissions({ session: h.session.id });
    expect(await h.store.getApproval(id)).toMatchObject({
      state: "used",
      decided_by: "cli",
      decision_reason: "customer called",
      admission: admission?.id,
    });

    // The same call again is a repeat: answered from the record, it moves nothing and needs no yes.
    const third = ok(await h.guard.call("issue_refund", big()));
    expect(third.output.spendguard).toMatchObject({ replayed: true });
    expect(h.world.writesOf("issue_refund")).toHaveLength(1);
    expect(await h.store.listApprovals({})).toHaveLength(1);

    const rows = await h.store.queryAudit({});
    expect(rows.map((r) => [r.decision, r.outcome, r.code, r.rule])).toEqual([
      ["deny", "denied", "approval_required", "require_approval_over"],
      ["deny", "denied", "approval_required", "require_approval_over"],
      ["allow", "approved", null, "approval"],
      ["allow", "ok", null, "policy"],
      ["allow", "replayed", null, "idempotency"],
    ]);
    expect(rows[2]).toMatchObject({
      tool: "issue_refund",
      session: h.session.id,
      reason: `${id} approved via operator (cli): customer called`,
      amount: 4_000,
      customer: "cus_acme1",
    });
    expect(rows[3]?.reason).toBe(`allowed with approval ${id} (via operator, cli)`);
    expect(await verifyAudit(h.store)).toEqual({ ok: true, rows: 5 });
    // A decision is not a call: the session's counts leave it out.
    expect((await h.store.sessionSummaries({}))[0]).toMatchObject({ calls: 4, denied: 2 });
  });

  it("covers exactly that call: another amount, another charge, another session need their own", async () => {
    const h = await harness(POLICY);
    const id = requestId(await h.guard.call("issue_refund", big(4_000)));
    await approve(h, id);
    expect(requestId(await h.guard.call("issue_refund", big(4_001)))).not.toBe(id);
    expect(
      requestId(await h.guard.call("issue_refund", { ...big(4_000), charge: "ch_acme2" })),
    ).not.toBe(id);
    const other = await h.newSession();
    expect(requestId(await other.guard.call("issue_refund", big(4_000)))).not.toBe(id);
    expect(h.world.writesOf("issue_refund")).toHaveLength(0);
    ok(await h.guard.call("issue_refund", big(4_000)));
    expect(h.world.writesOf("issue_refund")).toHaveLength(1);
  });

  it("is bound to what Stripe resolved: a full refund whose amount changed needs a new yes", async () => {
    const h = await harness(POLICY);
    const full = { charge: "ch_usd", reason: "duplicate" };
    const id = requestId(await h.guard.call("issue_refund", full));
    await approve(h, id);
    h.world.charges.set("ch_usd", { ...h.world.charge("ch_usd"), amount: 4_500 });
    expect(requestId(await h.guard.call("issue_refund", full))).not.toBe(id);
    expect((await h.store.getApproval(id))?.state).toBe("approved");
  });

  it("a no refuses the same call until it lapses; then the agent may ask again", async () => {
    const h = await harness(POLICY);
    const id = requestId(await h.guard.call("issue_refund", big()));
    expect(await reject(h, id, "not this customer")).toMatchObject({ ok: true });
    const declined = refused(await h.guard.call("issue_refund", big()), "approval_declined");
    expect(declined.message).toContain(
      `a person declined it (approval ${id}, cli: not this customer)`,
    );
    h.clock.advance(15 * MINUTE);
    expect(requestId(await h.guard.call("issue_refund", big()))).not.toBe(id);
    const decision = (await h.store.queryAudit({})).find((r) => r.rule === "approval");
    expect(decision).toMatchObject({
      decision: "deny",
      outcome: "rejected",
      code: "approval_declined",
      reason: `${id} rejected via operator (cli): not this customer`,
    });
  });

  it("pending requests expire: nobody can decide them any more, and the agent asks again", async () => {
    const h = await harness(POLICY);
    const id = requestId(await h.guard.call("issue_refund", big()));
    h.clock.advance(15 * MINUTE);
    const late = await approve(h, id);
    expect(late).toMatchObject({ ok: false, problem: "expired" });
    expect(late.ok === false && late.message).toContain("expired at 2026-03-02T09:15:00.000Z");
    expect(requestId(await h.guard.call("issue_refund", big()))).not.toBe(id);
  });

  it("a yes not used within approval_ttl lapses", async () => {
    const h = await harness(POLICY);
    const id = requestId(await h.guard.call("issue_refund", big()));
    h.clock.advance(10 * MINUTE);
    await approve(h, id);
    h.clock.advance(15 * MINUTE - 1);
    h.clock.advance(1);
    expect(requestId(await h.guard.call("issue_refund", big()))).not.toBe(id);
    expect(await approve(h, id)).toMatchObject({ ok: false, problem: "decided" });
  });

  it("unknown ids, decided requests and closed sessions are refused with a reason", async () => {
    const h = await harness(POLICY);
    expect(await approve(h, "apr_nope")).toMatchObject({ ok: false, problem: "unknown" });
    const id = requestId(await h.guard.call("issue_refund", big()));
    await endSession(h.store, h.session.id, "done", h.clock.now);
    const closed = await approve(h, id);
    expect(closed).toMatchObject({ ok: false, problem: "session_closed" });
    expect(closed.ok === false && closed.message).toContain("which is ended");
    // A no is still recorded: it harms nothing.
    expect(await reject(h, id)).toMatchObject({ ok: true });
    expect(await reject(h, id)).toMatchObject({ ok: false, problem: "decided" });
  });

  it("two identical calls racing for one approval: one goes through, the other needs a new yes", async () => {
    const h = await harness(POLICY);
    const id = requestId(await h.guard.call("issue_refund", big()));
    await approve(h, id);
    const outcomes = await Promise.all([
      h.guard.call("issue_refund", big()),
      h.guard.call("issue_refund", big()),
    ]);
    expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
    const loser = outcomes.find((o) => !o.ok);
    expect(loser && !loser.ok && loser.code).toBe("approval_required");
    expect(h.world.writesOf("issue_refund")).toHaveLength(1);
  });
});

describe("caps after approval", () => {
  const tight = POLICY.replace("per_session: 250", "per_session: 100");

  it("still apply: a yes does not lift the session cap, and a refused call keeps its approval", async () => {
    const h = await harness(tight);
    const id = requestId(await h.guard.call("issue_refund", big(4_000)));
    await approve(h, id);
    for (const amount of [2_900, 2_800, 2_700])
      ok(await h.guard.call("issue_refund", small(amount)));
    const capped = refused(await h.guard.call("issue_refund", big(4_000)), "cap_session");
    expect(capped.message).toContain("only $16.00 left of the $100.00 session cap");
    expect((await h.store.getApproval(id))?.state).toBe("approved");
    expect(h.world.writesOf("issue_refund")).toHaveLength(3);
  });

  it("nobody is asked about a call the caps refuse anyway", async () => {
    const h = await harness(POLICY);
    const person = human();
    refused(
      await h.guard.call("issue_refund", big(10_001), { askHuman: person.ask }),
      "cap_per_call",
    );
    expect(person.questions).toHaveLength(0);
    expect(await h.store.listApprovals({})).toHaveLength(0);
  });
});

describe("in-band approval (elicitation)", () => {
  it("accept: the call goes through at once, decided by the user in the client", async () => {
    const h = await harness(POLICY);
    const person = human("accept");
    const done = ok(await h.guard.call("issue_refund", big(), { askHuman: person.ask }));
    expect(person.questions).toHaveLength(1);
    expect(person.questions[0]?.timeoutMs).toBe(1_000);
    expect(person.questions[0]?.message).toContain("Why you are asked: amounts over $30.00");
    const [approval] = await h.store.listApprovals({});
    expect(approval).toMatchObject({ state: "used", decided_by: "elicitation" });
    expect(done.text).toContain(`(Approved by a person: ${approval?.id}.)`);
    const decision = (await h.store.queryAudit({})).find((r) => r.rule === "approval");
    expect(decision?.reason).toBe(
      `${approval?.id} approved via client (elicitation): the user approved it in the MCP client`,
    );
  });

  it("decline: approval_declined, and the same call is not asked about again", async () => {
    const h = await harness(POLICY);
    const person = human("decline");
    refused(
      await h.guard.call("issue_refund", big(), { askHuman: person.ask }),
      "approval_declined",
    );
    refused(
      await h.guard.call("issue_refund", big(), { askHuman: person.ask }),
      "approval_declined",
    );
    expect(person.questions).toHaveLength(1);
    expect(h.world.writesOf("issue_refund")).toHaveLength(0);
  });

  it("no answer: approval_timeout; a retry asks again", async () => {
    const h = await harness(POLICY);
    const person = human("timeout", "accept");
    const timedOut = refused(
      await h.guard.call("issue_refund", big(), { askHuman: person.ask }),
      "approval_timeout",
    );
    expect(timedOut.message).toContain("within 1s");
    expect((await h.store.listApprovals({}))[0]).toMatchObject({ state: "expired" });
    ok(await h.guard.call("issue_refund", big(), { askHuman: person.ask }));
    expect(person.questions).toHaveLength(2);
    const outcomes = (await h.store.queryAudit({}))
      .filter((r) => r.rule === "approval")
      .map((r) => r.outcome);
    expect(outcomes).toEqual(["expired", "approved"]);
  });

  it("a client that cannot answer after all: the request waits for the operator", async () => {
    const h = await harness(POLICY);
    const person = human("unavailable");
    const id = requestId(await h.guard.call("issue_refund", big(), { askHuman: person.ask }));
    await approve(h, id);
    ok(await h.guard.call("issue_refund", big(), { askHuman: person.ask }));
    expect(person.questions).toHaveLength(1);
  });

  it("an operator's decision while the question is open stands over the user's answer", async () => {
    const h = await harness(POLICY);
    const ask: AskHuman = async () => {
      const [open] = await h.store.listApprovals({});
      if (open) await reject(h, open.id, "operator said no first");
      return "accept";
    };
    const declined = refused(
      await h.guard.call("issue_refund", big(), { askHuman: ask }),
      "approval_declined",
    );
    expect(declined.message).toContain("cli: operator said no first");
    expect(h.world.writesOf("issue_refund")).toHaveLength(0);
  });
});

describe("require_approval_for", () => {
  it("an immediate cancellation asks; one at period end does not", async () => {
    const policy = BASE_POLICY.replace(
      "  get_balance:",
      "  get_balance:\n  cancel_subscription:\n    params:\n      at_period_end:\n        in: [true, false]",
    ).concat(
      "require_approval_for:\n  - tool: cancel_subscription\n    params:\n      at_period_end:\n        equals: false\n",
    );
    const h = await harness(policy);
    ok(await h.guard.call("cancel_subscription", { subscription: "sub_acme" }));
    const person = human("accept");
    ok(
      await h.guard.call(
        "cancel_subscription",
        { subscription: "sub_acme_eur", at_period_end: false },
        { askHuman: person.ask },
      ),
    );
    const message = person.questions[0]?.message ?? "";
    expect(message).toContain("Recurring revenue at risk: $11.00 a month");
    expect(message).toContain(
      "Why you are asked: cancel_subscription with at_period_end false needs a person's approval (policy support-refunds, require_approval_for[0]).",
    );
  });
});
