// Result limits of person search, shared by the search and the API (which must not import the search itself).
export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 100;
