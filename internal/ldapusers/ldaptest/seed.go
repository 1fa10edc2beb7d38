package ldaptest

// Passwords of the seeded users.
const (
	ServicePassword = "service-secret"
	AlicePassword   = "alice-password"
	BobPassword     = "bob-password"
	CarolPassword   = "carol-password"
)

// ServiceDN is a read-only service account of both shapes.
const ServiceDN = "cn=service," + BaseDN

// RFC2307bis is a directory in the rfc2307bis shape: users (inetOrgPerson)
// and groups (groupOfNames with member, so that the memberof overlay fills
// memberOf) under ou=users and ou=groups. alice is in admins and dev, bob in
// dev; carol has employeeType "disabled", which the tests' users_filter
// excludes (how a disabled account is told apart on OpenLDAP is a choice of
// users_filter).
const RFC2307bis = `dn: ` + ServiceDN + `
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: service
userPassword: ` + ServicePassword + `

dn: ou=users,` + BaseDN + `
objectClass: organizationalUnit
ou: users

dn: ou=groups,` + BaseDN + `
objectClass: organizationalUnit
ou: groups

dn: uid=alice,ou=users,` + BaseDN + `
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
givenName: Alice
displayName: Alice Liddell
mail: alice@example.com
telephoneNumber: +1 555 0100
l: Oxford
postalCode: OX1
userPassword: ` + AlicePassword + `

dn: uid=bob,ou=users,` + BaseDN + `
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Builder
displayName: Bob the Builder
mail: bob@example.com
userPassword: ` + BobPassword + `

dn: uid=carol,ou=users,` + BaseDN + `
objectClass: inetOrgPerson
uid: carol
cn: Carol
sn: Disabled
displayName: Carol
mail: carol@example.com
employeeType: disabled
userPassword: ` + CarolPassword + `

dn: cn=admins,ou=groups,` + BaseDN + `
objectClass: groupOfNames
cn: admins
member: uid=alice,ou=users,` + BaseDN + `

dn: cn=dev,ou=groups,` + BaseDN + `
objectClass: groupOfNames
cn: dev
member: uid=alice,ou=users,` + BaseDN + `
member: uid=bob,ou=users,` + BaseDN + `
`

// LLDAP is a directory in lldap's shape: ou=people and ou=groups, users
// (person, inetOrgPerson) whose cn is the display name, groups
// groupOfUniqueNames listing members in member (extensibleObject lets
// OpenLDAP store member there, as lldap does).
const LLDAP = `dn: ` + ServiceDN + `
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: service
userPassword: ` + ServicePassword + `

dn: ou=people,` + BaseDN + `
objectClass: organizationalUnit
ou: people

dn: ou=groups,` + BaseDN + `
objectClass: organizationalUnit
ou: groups

dn: uid=alice,ou=people,` + BaseDN + `
objectClass: person
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.com
userPassword: ` + AlicePassword + `

dn: uid=bob,ou=people,` + BaseDN + `
objectClass: person
objectClass: inetOrgPerson
uid: bob
cn: Bob the Builder
sn: Builder
mail: bob@example.com
userPassword: ` + BobPassword + `

dn: cn=lldap_admin,ou=groups,` + BaseDN + `
objectClass: groupOfUniqueNames
objectClass: extensibleObject
cn: lldap_admin
uniqueMember: uid=alice,ou=people,` + BaseDN + `
member: uid=alice,ou=people,` + BaseDN + `

dn: cn=family,ou=groups,` + BaseDN + `
objectClass: groupOfUniqueNames
objectClass: extensibleObject
cn: family
uniqueMember: uid=alice,ou=people,` + BaseDN + `
member: uid=alice,ou=people,` + BaseDN + `
uniqueMember: uid=bob,ou=people,` + BaseDN + `
member: uid=bob,ou=people,` + BaseDN + `
`
