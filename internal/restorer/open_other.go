//go:build !unix && !windows

package restorer

// oNoFollow: this system has no O_NOFOLLOW; files are only ever opened again
// by the restorer under names it created itself with O_EXCL.
const oNoFollow = 0

func checkNameOS(string) error { return nil }
