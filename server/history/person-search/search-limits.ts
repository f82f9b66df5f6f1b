// Result limits of person search: the HTTP contract's (contracts/http.ts), which the API enforces.
export { DEFAULT_SEARCH_LIMIT as DEFAULT_LIMIT, MAX_SEARCH_LIMIT as MAX_LIMIT } from '@mei/contracts';
