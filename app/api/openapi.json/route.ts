// Binds the handler in server/http/api.ts (the logic lives there).
import { handlers } from '../../../server/http/api.ts';

export const dynamic = 'force-dynamic';
export const GET = handlers.openapi;
