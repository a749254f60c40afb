package auth

import "context"

// contextID is the type of this package's context keys.
type contextID int

// CtxCredentials is the context.Context key whose value is the
// *Credentials of whoever runs the operation. A kernel task answers it
// from its own Value method.
const CtxCredentials contextID = iota

// CredentialsFromContext returns the credentials ctx carries, or anonymous
// credentials (nobody, no capabilities) when it carries none, so a caller
// that forgot to supply them is denied rather than trusted.
func CredentialsFromContext(ctx context.Context) *Credentials {
	if ctx != nil {
		if c, ok := ctx.Value(CtxCredentials).(*Credentials); ok && c != nil {
			return c
		}
	}
	return NewAnonymousCredentials()
}

// ContextWithCredentials returns a context that carries creds.
func ContextWithCredentials(ctx context.Context, creds *Credentials) context.Context {
	return context.WithValue(ctx, CtxCredentials, creds)
}
