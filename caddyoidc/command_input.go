package caddyoidc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// subcommands are the `caddy oidc` subcommands besides totp, each added by
// the init function of its command_*.go file.
var subcommands []func() *cobra.Command

// maxPasswordInput bounds what --stdin reads.
const maxPasswordInput = 4096

// readPassword reads a new password: the first line of standard input with
// fromStdin, else typed twice at the terminal without echo. Empty
// passwords are refused.
func readPassword(cmd *cobra.Command, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(io.LimitReader(cmd.InOrStdin(), maxPasswordInput)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the password from standard input: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", errors.New("empty password on standard input")
		}
		return pw, nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", errors.New("standard input is not a terminal: pipe the password in with --stdin")
	}
	prompt := func(p string) (string, error) {
		if _, err := fmt.Fprint(cmd.ErrOrStderr(), p); err != nil {
			return "", err
		}
		b, err := term.ReadPassword(fd)
		_, _ = fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		return string(b), nil
	}
	pw, err := prompt("Password: ")
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", errors.New("empty password")
	}
	again, err := prompt("Confirm password: ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", errors.New("the passwords do not match")
	}
	return pw, nil
}

// stringFlag returns a string flag's value.
func stringFlag(cmd *cobra.Command, name string) string {
	s, _ := cmd.Flags().GetString(name)
	return s
}

// boolFlag returns a bool flag's value.
func boolFlag(cmd *cobra.Command, name string) bool {
	b, _ := cmd.Flags().GetBool(name)
	return b
}

// printOut writes s to the command's standard output.
func printOut(cmd *cobra.Command, format string, args ...any) error {
	if _, err := fmt.Fprintf(cmd.OutOrStdout(), format, args...); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	return nil
}
