// Socket.IO parsers for wire protocol 2's one-message observations (see OBSERVATIONS_FRAME_TAG in index.ts).
// Node-only entry (not re-exported by the contracts index): `@mei/contracts/wire/socket-parser`.
//  - agentParser (edge agent, protocol 2): `observations` with one binary argument goes out as one frame;
//    every other packet as Socket.IO's default encoder writes it.
//  - serverParser (the server, for every client): default decoding, plus observations frames. The frame
//    becomes the same EVENT packet on the agent namespace that the default form decodes to, so everything
//    after it (namespace auth, rate limits, the connection's negotiated protocol, ingest) is unchanged: a
//    client that never joined /agent is disconnected (no socket for the namespace), and a protocol-1
//    connection has its binary batch refused by the ingest, naming the field.
import { Decoder, Encoder, PacketType, type Packet } from 'socket.io-parser';
import { AGENT_NAMESPACE } from '../events.ts';
import { decodeObservationsFrame, encodeObservationsFrame, isObservationsFrame } from './index.ts';

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

/** The agent's encoder: an `observations` event with one binary argument becomes one binary message. */
export class AgentEncoder extends Encoder {
  override encode(packet: Packet): Array<string | Uint8Array> {
    const d = packet.data as unknown[] | undefined;
    if (packet.type === PacketType.EVENT && packet.nsp === AGENT_NAMESPACE && d?.length === 2 && d[0] === 'observations' && isBytes(d[1])) {
      return [encodeObservationsFrame(packet.id, d[1])];
    }
    return super.encode(packet) as Array<string | Uint8Array>;
  }
}

/** The server's decoder: Socket.IO's default, plus observations frames from protocol-2 agents. */
export class ServerDecoder extends Decoder {
  override add(obj: unknown): void {
    // A binary message that is not an attachment the default decoder is waiting for.
    if (isBytes(obj) && !(this as unknown as { reconstructor?: unknown }).reconstructor && isObservationsFrame(obj)) {
      // A malformed frame throws (WireError): Socket.IO closes that connection, as for any malformed packet.
      const { ackId, batch } = decodeObservationsFrame(obj);
      const packet: Packet = { type: PacketType.EVENT, nsp: AGENT_NAMESPACE, data: ['observations', batch], ...(ackId !== undefined ? { id: ackId } : {}) };
      this.emitReserved('decoded', packet);
      return;
    }
    super.add(obj);
  }
}

/** `parser` option of the agent's Socket.IO client under protocol 2. */
export const agentParser = { Encoder: AgentEncoder, Decoder };
/** `parser` option of the server's Socket.IO server. */
export const serverParser = { Encoder, Decoder: ServerDecoder };
