// Filled in by the policy module; re-exported from src/index.ts.
export {};
