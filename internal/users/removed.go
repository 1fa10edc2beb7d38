package users

import "sort"

// OnUsersRemoved registers fn, called after each re-read of the users file
// (automatic or Reload) with the users that could sign in before and cannot
// any more: disabled or deleted. The provider ends their sessions and tells
// the applications (Back-Channel Logout). fn runs on its own goroutine; a
// later call replaces it. Users removed while nothing runs are not noticed.
func (b *FileBackend) OnUsersRemoved(fn func(usernames []string)) {
	b.onRemoved.Store(&fn)
}

// stored replaces the users in effect with snap and reports the users it
// removed. The caller holds reloadMu.
func (b *FileBackend) stored(snap *snapshot) {
	old := b.snap.Swap(snap)
	fn := b.onRemoved.Load()
	if old == nil || fn == nil {
		return
	}
	if gone := removedUsers(old, snap); len(gone) > 0 {
		go (*fn)(gone)
	}
}

// removedUsers lists, sorted, the users enabled in old that are disabled or
// absent in cur.
func removedUsers(old, cur *snapshot) []string {
	var out []string
	for name, e := range old.users {
		if e.user.Disabled {
			continue
		}
		if n := cur.users[name]; n == nil || n.user.Disabled {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
