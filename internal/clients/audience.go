package clients

import "fmt"

// requestedAudienceMode parses requested_audience_mode: explicit (or "")
// or implicit; it reports whether the mode is implicit.
func requestedAudienceMode(mode string) (bool, error) {
	switch mode {
	case "", "explicit":
		return false, nil
	case "implicit":
		return true, nil
	}
	return false, fmt.Errorf("requested_audience_mode: %q is not one of explicit, implicit", mode)
}

// ImplicitAudience returns the audiences to grant a request that names
// none, under requested_audience_mode implicit: every registered audience;
// nil otherwise (explicit: only the audiences requested).
func (c *Client) ImplicitAudience(requested []string) []string {
	if c == nil || !c.implicitAudience || len(requested) > 0 {
		return nil
	}
	return c.GetAudience()
}
