// Filled in by the identity module; re-exported from src/index.ts.
export {};
