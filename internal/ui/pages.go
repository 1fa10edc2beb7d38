package ui

// LoginPage asks for a username and password. The form posts username,
// password, csrf_token and return_to to Action.
type LoginPage struct {
	ClientName string // who is asking ("Immich"); may be empty
	Action     string // form action URL (POST)
	CSRFToken  string // hidden input "csrf_token"
	ReturnTo   string // hidden input "return_to"
	Username   string // prefilled value of input "username"
	Error      string // shown in role="alert" when non-empty
}

// Scope is one requested permission as shown on the consent page.
type Scope struct {
	Name        string // the scope value, e.g. "email"; shown small
	Description string // what it grants, e.g. "Your email address"; the name is shown instead when empty
}

// ConsentPage asks the signed-in user to allow or deny a client. The form posts
// csrf_token, return_to and decision ("allow" or "deny") to Action.
type ConsentPage struct {
	ClientName string  // shown as the requester; ClientID is used when empty
	ClientID   string  // the client's ID, shown small beside ClientName
	UserName   string  // display name of the signed-in user ("Signed in as …")
	Scopes     []Scope // the requested scopes, in display order
	Action     string  // form action URL (POST)
	CSRFToken  string  // hidden input "csrf_token"
	ReturnTo   string  // hidden input "return_to"
}

// LogoutPage is the sign-out confirmation, the "not signed in" notice or the
// "signed out" result, depending on Done and UserName. The confirmation form
// posts csrf_token and return_to to Action.
type LogoutPage struct {
	Action    string // form action URL (POST)
	CSRFToken string // hidden input "csrf_token"
	ReturnTo  string // hidden input "return_to"; may be empty
	UserName  string // if empty and Done is false: "You are not signed in"
	Done      bool   // "You have been signed out"
}

// ErrorPage explains to a person why the flow cannot go on.
type ErrorPage struct {
	Title       string // e.g. "This sign-in link is not valid"; "Something went wrong" when empty
	Description string // human explanation, e.g. "The application sent an address that is not registered..."
	Code        string // machine error code shown small, e.g. "invalid_request"; optional
}
