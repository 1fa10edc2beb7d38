package ui

// RecoveryCodesPage shows a user's new recovery codes, once. Its form posts
// csrf_token and return_to to Action: on to the application after a
// sign-in, back to the settings from there.
type RecoveryCodesPage struct {
	ClientName string   // who is asking; may be empty
	UserName   string   // display name of the signed-in user
	Codes      []string // the codes, shown this once
	Action     string   // the Continue form's target (POST)
	CSRFToken  string   // hidden input "csrf_token"
	ReturnTo   string   // hidden input "return_to"
	Proof      string   // hidden input "proof": this page followed the sign-in
}
