//go:build !unix

package usersfile

import (
	"io/fs"
	"os"
)

// keepOwner does nothing where files have no Unix owner.
func keepOwner(*os.File, fs.FileInfo) {}

// Lock does nothing here: concurrent edits are not serialized.
func Lock(string) (func(), error) { return func() {}, nil }
