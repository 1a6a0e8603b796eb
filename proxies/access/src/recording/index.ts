// Filled in by the recording module; re-exported from src/index.ts.
export {};
