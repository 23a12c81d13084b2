/**
 * A stored snapshot does not match its commit marker (record count, byte
 * count, checksum, unparsable JSON, LevelDB-reported corruption). The
 * snapshot must not be used: whatever was built from it is discarded and an
 * older snapshot, or a full log replay, is used instead.
 */
export class SnapshotDamagedError extends Error {
  override readonly name = 'SnapshotDamagedError';

  constructor(
    /** Log position of the damaged snapshot. */
    readonly position: number,
    /** What is wrong, without the position. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`snapshot at position ${position} is damaged: ${reason}`, options);
  }
}
