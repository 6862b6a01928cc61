// A refusal or failure is a value: the code that decides throws one, `main`
// catches it once, prints its line, records it in the audit trail and exits 1.
// Nothing prints-and-exits from the middle of a step. Pure.

export type RefusalOutcome = "refused" | "failed";

export class Refusal extends Error {
  constructor(
    message: string,
    readonly detail: {
      // A second line for a person at a terminal that names the fix.
      hint?: string;
      // "fuse": libfuse's shared mount code prefix; "none": the line as is
      // (perror-style messages); default: "<progname>: ".
      prefix?: "fuse" | "none";
      // "failed" once something was attached or sent; "refused" before.
      outcome?: RefusalOutcome;
      // The kernel's errno behind a failed attach (the --sync-init status).
      errno?: number;
    } = {},
  ) {
    super(message);
  }
}

export function refuse(message: string, hint?: string): never {
  throw new Refusal(message, hint === undefined ? {} : { hint });
}
