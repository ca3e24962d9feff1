/** Row shapes shared by the reads (repository.ts) and the write path (commit.ts), kept apart so neither imports the other. */

/** The times the lists sort and flag by (R10.3, R13.3). */
export interface ListTimes {
  readonly lastMessageAt: Date;
  readonly waitingSince: Date | null;
}

/** One member's own state of one conversation: unread count, read position, pin (R11, R12). */
export interface MemberState {
  readonly memberId: string;
  readonly unreadCount: number;
  readonly lastReadSeq: number;
  readonly pinned: boolean;
}
