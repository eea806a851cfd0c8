package fsmeta

import (
	"syscall"
	"time"

	"golang.org/x/sys/windows"
)

func fromSys(sys any, m *Meta) {
	d, ok := sys.(*syscall.Win32FileAttributeData)
	if !ok || d == nil {
		return
	}
	m.AccessTime = time.Unix(0, d.LastAccessTime.Nanoseconds())
	// Windows has no inode change time; ModTime (already set) stands in.
}

// lstatExtra fills the file index, volume serial number and link count,
// which the directory listing does not carry. It opens the entry itself
// (not a reparse point's target) with no access rights; on failure the
// fields stay zero.
func lstatExtra(path string, m *Meta) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return
	}
	h, err := windows.CreateFile(p, 0,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING,
		windows.FILE_FLAG_BACKUP_SEMANTICS|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return
	}
	defer windows.CloseHandle(h)
	var info windows.ByHandleFileInformation
	if windows.GetFileInformationByHandle(h, &info) != nil {
		return
	}
	m.Inode = uint64(info.FileIndexHigh)<<32 | uint64(info.FileIndexLow)
	m.Device = uint64(info.VolumeSerialNumber)
	m.Links = uint64(info.NumberOfLinks)
}
