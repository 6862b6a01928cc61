// The libfuse behaviour level this helper implements, printed by -V in plain
// MAJOR.MINOR.PATCH form because tools parse it (gocryptfs decides from it
// whether `nonempty` is accepted).
export const VERSION = "3.19.0";
