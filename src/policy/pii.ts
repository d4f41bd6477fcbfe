/**
 * Personal data is masked by default (design contract): an agent doing support needs to
 * recognise a customer, not to read their contact details. `pii: reveal` turns it off.
 */

export function maskEmail(email: string): string {
  const at = email.lastIndexOf("@");
  if (at < 1) return "***";
  return `${email[0]}***${email.slice(at)}`;
}

/**
 * A phone number is reduced to the customer's country (calling codes cannot be cut
 * reliably from an unformatted number): `+14155550101` → `*** (US)`.
 */
export function maskPhone(country: string | null | undefined): string {
  return country ? `*** (${country})` : "***";
}

/** First name and last initial: `Jane Doe` → `Jane D.`. */
export function maskName(name: string): string {
  const parts = name.trim().split(/\s+/);
  if (parts.length < 2) return parts[0] ?? "";
  return `${parts[0]} ${parts.at(-1)?.[0] ?? ""}.`;
}
