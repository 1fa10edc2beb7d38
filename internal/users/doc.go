// Package users authenticates end users against a user database.
//
// # The users file
//
// The file backend ([FileBackend], configured as users_file) reads the same
// users_database.yml that Authelia's file authentication backend reads, so an
// existing Authelia users file can be used unchanged:
//
//	users:
//	  john:
//	    displayname: "John Doe"
//	    password: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$...."
//	    email: john.doe@example.com
//	    groups:
//	      - admins
//	      - dev
//	  jane:
//	    disabled: true
//	    displayname: "Jane Roe"
//	    password: "$pbkdf2-sha512$310000$...."
//	    email: jane.roe@example.com
//
// Each key under users is a username. Usernames are matched exactly: "John"
// and "john" are two different users. Per user:
//
//   - password (required): a password digest, never the password itself.
//     Accepted formats are those of Authelia: argon2id (also argon2i and
//     argon2d), scrypt, yescrypt, pbkdf2 ($pbkdf2$ for SHA-1,
//     $pbkdf2-sha256$, $pbkdf2-sha512$, ...), bcrypt ($2a$, $2b$, $2y$,
//     $bcrypt-sha256$) and SHA-crypt ($5$ sha256crypt, $6$ sha512crypt).
//     Plain text is not accepted. Digests made by "authelia crypto hash generate" work as they
//     are; argon2id with m=65536, t=3, p=4 is the recommended choice.
//   - displayname: the name claim.
//   - email: the email claim.
//   - groups: a list of group names, the groups claim.
//   - disabled: true refuses logins and token refreshes for the user while
//     keeping the entry.
//   - optional profile fields, as in Authelia 4.39 and named after the
//     OpenID Connect standard claims: given_name, middle_name, family_name,
//     nickname, profile, picture, website, gender, birthdate, zoneinfo,
//     locale, phone_number, phone_extension, address (a map with
//     street_address, locality, region, postal_code, country) and extra (a
//     map of custom attributes).
//
// Other keys are ignored. The file is checked when it is loaded: every user
// needs a password digest in a supported format, extra values must be
// representable in JSON (no .nan or .inf), and a file without users is
// rejected. Error messages name the user and the field at fault, and never
// repeat the digest.
//
// The file is re-read when its modification time or size changes, checked at
// most once per second when someone logs in or a token is refreshed; there is
// no need to reload Caddy after editing it. If the edited file is invalid the
// previous users stay in effect and the error is reported (see
// [FileBackend.LastError]); fix the file and the next check picks it up. To
// replace the file atomically, write a new file and rename it over the old one.
//
// An unknown username, a disabled user and a wrong password are refused alike
// and in about the same time, so that the login page does not reveal which
// usernames exist. Passwords longer than 1024 bytes are refused without being
// hashed. At most one password is hashed per CPU at a time; further logins
// wait their turn.
package users
