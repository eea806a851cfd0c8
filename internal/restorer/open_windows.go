package restorer

import (
	"fmt"
	"strings"
)

// oNoFollow is not needed on Windows: O_CREATE|O_EXCL (CREATE_NEW) fails on
// any existing entry, symlinks included, and files are only ever opened
// again by the restorer under names it created itself.
const oNoFollow = 0

// checkNameOS refuses names that Windows would read as more than one plain
// component: backslashes (separators), colons (drives, alternate data
// streams), and trailing dots or spaces, which Windows strips (".. " would
// become "..").
func checkNameOS(name string) error {
	if strings.ContainsAny(name, `\:`) || strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") {
		return fmt.Errorf("entry name %q is not a plain file name on Windows", name)
	}
	return nil
}
