package users

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the users file parser. It must never
// panic; what it accepts must be usable: every user is found under its own
// name with a digest, and the copy Lookup hands out equals the stored user
// and has claims that can be written as JSON.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		oneUser("john", autheliaDigest),
		"users:\n" +
			"  john:\n" +
			"    disabled: false\n" +
			"    displayname: John Doe\n" +
			"    password: '" + autheliaDigest + "'\n" +
			"    email: john.doe@authelia.com\n" +
			"    groups: [admins, dev]\n" +
			"    given_name: John\n" +
			"    family_name: Doe\n" +
			"    locale: en-US\n" +
			"    phone_number: '+1 (604) 555-1234'\n" +
			"    address:\n" +
			"      street_address: 2780 Ash St\n" +
			"      locality: Vancouver\n" +
			"      country: Canada\n" +
			"    extra:\n" +
			"      team: photos\n" +
			"      floors: {1: lobby, 2: [desk, lab]}\n" +
			"  harry:\n" +
			"    disabled: true\n" +
			"    password: '$argon2id$v=19$m=65536,t=3,p=4$BpLnfgDsc2WD8F2q$o/vzA4myCqZZ36bUGsDY//8mKUYNZZaR0t4MFFSs+iM'\n",
		// Anchors, aliases and merge keys.
		"base: &b {password: '" + autheliaDigest + "', groups: [a]}\nusers:\n  a: *b\n  b:\n    <<: *b\n    email: b@example.com\n",
		"users: &u\n  x:\n    password: '" + autheliaDigest + "'\n    extra: {self: *u}\n",
		// Errors: wrong shapes, bad digests, plain text.
		"users: []\n",
		"users:\n  x: 1\n",
		"users:\n  x:\n    password: hunter2\n",
		"users:\n  x:\n    password: '$argon2id$v=19$m=99999999999,t=1,p=1$c2FsdA$aGFzaA'\n",
		"users:\n  x:\n    password: '$bcrypt$'\n    groups: {a: b}\n",
		"users:\n  x:\n    password: '" + autheliaDigest + "'\n    extra:\n      ? [1, 2]\n      : v\n",
		"users:\n  x:\n    password: '" + autheliaDigest + "'\n    extra:\n      n: .nan\n      i: [-.inf]\n",
		"- 1\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parse(data)
		if err != nil {
			if s != nil {
				t.Fatalf("parse returned a snapshot with error %v", err)
			}
			return
		}
		if len(s.users) == 0 || s.dummy == nil {
			t.Fatalf("accepted a file with %d users, dummy digest %v", len(s.users), s.dummy)
		}
		for name, e := range s.users {
			if e.user.Username != name || e.digest == nil {
				t.Fatalf("user %q: username %q, digest %v", name, e.user.Username, e.digest)
			}
			c := e.user.clone()
			if !slices.Equal(c.Groups, e.user.Groups) || !reflect.DeepEqual(c.Address, e.user.Address) {
				t.Fatalf("user %q: clone differs: %#v vs %#v", name, c, e.user)
			}
			if _, err := json.Marshal(c); err != nil {
				t.Fatalf("user %q: the copy handed out is not JSON-safe: %v", name, err)
			}
		}
	})
}
