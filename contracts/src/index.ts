// Browser-safe entry: types, validation and the event contract. (crd.ts reads files and is Node-only.)
export * from './job.ts';
export * from './validation.ts';
export * from './defaults.ts';
export * from './privacy.ts';
export * from './identities.ts';
export * from './events.ts';
export * from './api.ts';
export * from './wire/index.ts';
export * from './http.ts';
