// Start-up floor for the -V benchmark: a compiled Bun program with no code at all.
export {};
