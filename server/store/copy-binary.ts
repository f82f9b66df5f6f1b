// Rows in PostgreSQL's binary COPY format (https://www.postgresql.org/docs/current/sql-copy.html, "Binary
// Format"), for SqlClient.copyBinary. Only the column types the history writer needs: bigint, int, text and
// real[] (one dimension, no NULL elements). Numbers are sent big-endian as the types' receive functions
// read them, so a real[] element is stored bit for bit as the Float32Array holds it.

export type CopyColumnType = 'int8' | 'int4' | 'text' | 'float4[]';
export type CopyValue = number | string | ArrayLike<number>;

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const FLOAT4_OID = 700;

function valueBytes(type: CopyColumnType, v: CopyValue): number {
  switch (type) {
    case 'int8':
      return 8;
    case 'int4':
      return 4;
    case 'text':
      return Buffer.byteLength(v as string, 'utf8');
    case 'float4[]':
      return 20 + (v as ArrayLike<number>).length * 8;
  }
}

/** Encodes rows (one value per column, in `types` order; no NULLs) as a binary COPY stream. */
export function encodeCopyBinary(types: readonly CopyColumnType[], rows: ReadonlyArray<readonly CopyValue[]>): Uint8Array {
  let size = SIGNATURE.length + 8 + 2;
  for (const row of rows) {
    if (row.length !== types.length) throw new RangeError(`copy row has ${row.length} values for ${types.length} columns`);
    size += 2;
    for (let c = 0; c < types.length; c++) size += 4 + valueBytes(types[c], row[c]);
  }
  const buf = Buffer.allocUnsafe(size);
  let o = SIGNATURE.copy(buf, 0);
  o = buf.writeInt32BE(0, o); // flags
  o = buf.writeInt32BE(0, o); // header extension length
  for (const row of rows) {
    o = buf.writeInt16BE(types.length, o);
    for (let c = 0; c < types.length; c++) {
      const v = row[c];
      const type = types[c];
      o = buf.writeInt32BE(valueBytes(type, v), o);
      if (type === 'int8') o = buf.writeBigInt64BE(BigInt(v as number), o);
      else if (type === 'int4') o = buf.writeInt32BE(v as number, o);
      else if (type === 'text') o += buf.write(v as string, o, 'utf8');
      else {
        const a = v as ArrayLike<number>;
        o = buf.writeInt32BE(1, o); // dimensions
        o = buf.writeInt32BE(0, o); // no NULL elements
        o = buf.writeInt32BE(FLOAT4_OID, o);
        o = buf.writeInt32BE(a.length, o);
        o = buf.writeInt32BE(1, o); // lower bound
        for (let i = 0; i < a.length; i++) {
          o = buf.writeInt32BE(4, o);
          o = buf.writeFloatBE(a[i], o);
        }
      }
    }
  }
  o = buf.writeInt16BE(-1, o); // trailer
  return buf.subarray(0, o);
}
