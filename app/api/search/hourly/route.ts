// Binds the handler in server/http/search-api.ts (the logic lives there).
import { searchHandlers } from '../../../../server/http/search-api.ts';

export const dynamic = 'force-dynamic';
export const GET = searchHandlers.tracksPerHour;
