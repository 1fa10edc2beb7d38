// Passkey support: filled in by the WebAuthn work.
