// Package sessionjson encodes and decodes the provider's fosite sessions
// (*openid.DefaultSession) as JSON, several times faster than encoding/json.
//
// The store keeps every grant's session as a JSON column. Under load, CPU
// profiles showed json.Marshal and json.Unmarshal of these sessions at 10–15%
// of the server's CPU: encoding/json walks the types by reflection and
// allocates for every field. This package knows the one type by heart: its
// encoder appends the fields in order, and its decoder is a single-pass parser
// that allocates little more than the decoded values themselves.
//
// Compatibility runs both ways, because the column outlives versions:
//
//   - Unmarshal decodes what encoding/json wrote (rows of older versions)
//     exactly as json.Unmarshal does.
//   - Marshal writes what json.Marshal writes, less the fields that hold their
//     zero value; json.Unmarshal (an older version) decodes it into a fresh
//     session, or one whose fields are zero, to the same value as
//     json.Marshal's output. (Into a session that holds values already, such
//     as openid.NewDefaultSession's requested-at time, json.Unmarshal keeps
//     them where Marshal left the field out.)
//
// Marshal leaves zero fields out, and Unmarshal reads a field that is absent as
// its zero value: an absent field means what the full encoding of the zero
// value would have meant. Whatever Unmarshal's parser does not handle exactly
// (unknown or case-folded keys, duplicate fields, type mismatches, syntax
// errors) it hands to json.Unmarshal, so odd inputs and error messages stay
// as they were.
package sessionjson
