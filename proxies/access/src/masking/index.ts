// Filled in by the masking module; re-exported from src/index.ts.
export {};
