import { cancelSubscription } from "./cancel_subscription.js";
import { capturePaymentIntent } from "./capture_payment_intent.js";
import { endSession } from "./end_session.js";
import { findCustomer } from "./find_customer.js";
import { getBalance } from "./get_balance.js";
import { issueRefund } from "./issue_refund.js";
import { listCharges } from "./list_charges.js";
import { listDisputes } from "./list_disputes.js";
import { listInvoices } from "./list_invoices.js";
import { listSubscriptions } from "./list_subscriptions.js";
import { lookupCharge } from "./lookup_charge.js";
import { lookupCustomer } from "./lookup_customer.js";
import { lookupInvoice } from "./lookup_invoice.js";
import { lookupPaymentIntent } from "./lookup_payment_intent.js";
import { lookupRefund } from "./lookup_refund.js";
import { lookupSubscription } from "./lookup_subscription.js";
import { payInvoice } from "./pay_invoice.js";
import { sessionStatus } from "./session_status.js";
import { submitDisputeEvidence } from "./submit_dispute_evidence.js";
import type { AnyTool } from "./tool.js";

/** Every tool spendguard has. The policy decides which of them a session sees. */
export const TOOLS: readonly AnyTool[] = [
  // read
  lookupCharge,
  listCharges,
  lookupCustomer,
  findCustomer,
  lookupPaymentIntent,
  lookupSubscription,
  listSubscriptions,
  lookupInvoice,
  listInvoices,
  lookupRefund,
  listDisputes,
  getBalance,
  // write
  issueRefund,
  cancelSubscription,
  capturePaymentIntent,
  payInvoice,
  submitDisputeEvidence,
  // session
  sessionStatus,
  endSession,
];
