export * from './identity/index.ts';
export * from './policy/index.ts';
export * from './masking/index.ts';
export * from './recording/index.ts';
export * from './approvals/index.ts';
