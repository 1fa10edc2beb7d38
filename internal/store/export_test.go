package store

// GroupCommitStats returns how many batches of several writes the group
// committer of db sent as one transaction, and how many of them failed and
// were run again write by write (PostgreSQL's pipelined group commit).
func GroupCommitStats(db *DB) (shared, retried int64) {
	return db.group.shared.Load(), db.group.retried.Load()
}
