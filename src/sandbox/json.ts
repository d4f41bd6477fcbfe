/** What a response body is made of: the sandbox renders Stripe objects as plain JSON values. */
export type Json = string | number | boolean | null | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}
