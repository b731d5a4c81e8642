/**
 * Whether bytes are a Parquet file: the format puts its magic at both ends.
 * Kept apart from data/parquet.ts so telling formats apart does not load DuckDB.
 */
export function isParquet(bytes: Uint8Array): boolean {
  const magic = Buffer.from('PAR1');
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return b.byteLength >= 12 && b.subarray(0, 4).equals(magic) && b.subarray(-4).equals(magic);
}
