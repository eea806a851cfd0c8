package repository

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/lumbung-id/lumbung/internal/crypto"
)

// NodeType is the kind of a directory entry.
type NodeType uint8

// Node types. Special files (devices, fifos, sockets) are skipped by the
// archiver today; the types exist so a later version can store them.
const (
	NodeFile    NodeType = 1
	NodeDir     NodeType = 2
	NodeSymlink NodeType = 3
	NodeDevice  NodeType = 4
	NodeCharDev NodeType = 5
	NodeFIFO    NodeType = 6
	NodeSocket  NodeType = 7
)

func (t NodeType) String() string {
	switch t {
	case NodeFile:
		return "file"
	case NodeDir:
		return "dir"
	case NodeSymlink:
		return "symlink"
	case NodeDevice:
		return "dev"
	case NodeCharDev:
		return "chardev"
	case NodeFIFO:
		return "fifo"
	case NodeSocket:
		return "socket"
	}
	return fmt.Sprintf("nodetype(%d)", uint8(t))
}

// Node is one directory entry with its metadata. Names and link targets are
// raw bytes held in strings: file names need not be valid UTF-8.
type Node struct {
	Name       string
	Type       NodeType
	Mode       uint32 // unix permission bits with setuid/setgid/sticky (0o7777)
	UID, GID   uint32
	User       string
	Group      string
	ModTime    time.Time
	ChangeTime time.Time
	AccessTime time.Time
	Inode      uint64
	DeviceID   uint64
	Links      uint64
	Size       uint64
	Content    []crypto.ID // data blobs, in order (files)
	Subtree    crypto.ID   // tree blob (directories)
	LinkTarget string      // symlinks
	Error      string      // why the content could not be read (files saved without content)
	Xattrs     []Xattr     // extended attributes (ACLs, SELinux labels, capabilities, user.*), sorted by name
}

// Xattr is one extended attribute: a name with its namespace ("user.x",
// "system.posix_acl_access", "security.selinux") and its value as stored.
type Xattr struct {
	Name  string
	Value []byte
}

// Tree is a directory: nodes sorted by name, names unique.
type Tree struct {
	Nodes []*Node
}

// Field tags of the node encoding (docs/format.md, "Trees"). Readers skip
// tags they do not know, so new optional fields do not need a new version.
const (
	tagName       = 1
	tagType       = 2
	tagMode       = 3
	tagUID        = 4
	tagGID        = 5
	tagUser       = 6
	tagGroup      = 7
	tagModTime    = 8
	tagChangeTime = 9
	tagAccessTime = 10
	tagInode      = 11
	tagDeviceID   = 12
	tagLinks      = 13
	tagSize       = 14
	tagContent    = 15
	tagSubtree    = 16
	tagLinkTarget = 17
	tagError      = 18
	tagXattr      = 19
)

const treeVersion = 1

// maxNameLen bounds names and link targets read from a repository.
const maxNameLen = 64 << 10

// Limits on extended attributes read from a repository: Linux's own
// (XATTR_NAME_MAX, XATTR_SIZE_MAX), and a total per entry.
const (
	MaxXattrName  = 255
	MaxXattrValue = 64 << 10
	maxXattrTotal = 1 << 20
)

// EncodeTree serialises t; nodes must already be sorted by name.
func EncodeTree(t *Tree) ([]byte, error) {
	buf := make([]byte, 0, 64+len(t.Nodes)*128)
	buf = append(buf, treeVersion)
	buf = binary.AppendUvarint(buf, uint64(len(t.Nodes)))
	var node []byte
	for i, n := range t.Nodes {
		if i > 0 && t.Nodes[i-1].Name >= n.Name {
			return nil, fmt.Errorf("tree: nodes not sorted or duplicated at %q", n.Name)
		}
		if err := ValidName(n.Name); err != nil {
			return nil, err
		}
		if err := validXattrs(n); err != nil {
			return nil, err
		}
		node = encodeNode(node[:0], n)
		buf = binary.AppendUvarint(buf, uint64(len(node)))
		buf = append(buf, node...)
	}
	return buf, nil
}

func appendField(b []byte, tag uint64, val []byte) []byte {
	b = binary.AppendUvarint(b, tag)
	b = binary.AppendUvarint(b, uint64(len(val)))
	return append(b, val...)
}

func appendUint(b []byte, tag uint64, v uint64) []byte {
	var tmp [binary.MaxVarintLen64]byte
	return appendField(b, tag, binary.AppendUvarint(tmp[:0], v))
}

func appendTime(b []byte, tag uint64, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	var tmp [binary.MaxVarintLen64]byte
	return appendField(b, tag, binary.AppendVarint(tmp[:0], t.UnixNano()))
}

func encodeNode(b []byte, n *Node) []byte {
	b = appendField(b, tagName, []byte(n.Name))
	b = appendUint(b, tagType, uint64(n.Type))
	b = appendUint(b, tagMode, uint64(n.Mode))
	b = appendUint(b, tagUID, uint64(n.UID))
	b = appendUint(b, tagGID, uint64(n.GID))
	if n.User != "" {
		b = appendField(b, tagUser, []byte(n.User))
	}
	if n.Group != "" {
		b = appendField(b, tagGroup, []byte(n.Group))
	}
	b = appendTime(b, tagModTime, n.ModTime)
	b = appendTime(b, tagChangeTime, n.ChangeTime)
	b = appendTime(b, tagAccessTime, n.AccessTime)
	b = appendUint(b, tagInode, n.Inode)
	b = appendUint(b, tagDeviceID, n.DeviceID)
	b = appendUint(b, tagLinks, n.Links)
	b = appendUint(b, tagSize, n.Size)
	if len(n.Content) > 0 {
		b = binary.AppendUvarint(b, tagContent)
		b = binary.AppendUvarint(b, uint64(len(n.Content)*crypto.IDSize))
		for _, id := range n.Content {
			b = append(b, id[:]...)
		}
	}
	if !n.Subtree.IsZero() {
		b = appendField(b, tagSubtree, n.Subtree[:])
	}
	if n.LinkTarget != "" {
		b = appendField(b, tagLinkTarget, []byte(n.LinkTarget))
	}
	if n.Error != "" {
		b = appendField(b, tagError, []byte(n.Error))
	}
	for _, x := range n.Xattrs {
		b = binary.AppendUvarint(b, tagXattr)
		b = binary.AppendUvarint(b, uint64(uvarintLen(uint64(len(x.Name)))+len(x.Name)+len(x.Value)))
		b = binary.AppendUvarint(b, uint64(len(x.Name)))
		b = append(b, x.Name...)
		b = append(b, x.Value...)
	}
	return b
}

func uvarintLen(v uint64) int {
	var tmp [binary.MaxVarintLen64]byte
	return len(binary.AppendUvarint(tmp[:0], v))
}

// validXattrs checks what decodeNode will demand of n's extended
// attributes, so no tree is written that cannot be read.
func validXattrs(n *Node) error {
	for i, x := range n.Xattrs {
		switch {
		case x.Name == "" || len(x.Name) > MaxXattrName || strings.IndexByte(x.Name, 0) >= 0:
			return fmt.Errorf("tree: %q: invalid extended attribute name %q", n.Name, x.Name)
		case len(x.Value) > MaxXattrValue:
			return fmt.Errorf("tree: %q: extended attribute %q of %d bytes", n.Name, x.Name, len(x.Value))
		case i > 0 && n.Xattrs[i-1].Name >= x.Name:
			return fmt.Errorf("tree: %q: extended attributes not sorted or duplicated at %q", n.Name, x.Name)
		}
	}
	return nil
}

// decodeXattr parses one xattr field: uvarint name length ‖ name ‖ value.
func decodeXattr(val []byte) (Xattr, error) {
	l, k := binary.Uvarint(val)
	if k <= 0 || l == 0 || l > MaxXattrName || l > uint64(len(val)-k) {
		return Xattr{}, fmt.Errorf("bad extended attribute name")
	}
	name := string(val[k : k+int(l)])
	if strings.IndexByte(name, 0) >= 0 {
		return Xattr{}, fmt.Errorf("extended attribute name %q contains NUL", name)
	}
	value := val[k+int(l):]
	if len(value) > MaxXattrValue {
		return Xattr{}, fmt.Errorf("extended attribute %q: value of %d bytes", name, len(value))
	}
	return Xattr{Name: name, Value: append([]byte(nil), value...)}, nil
}

// ValidName refuses names that could escape a directory on restore or that
// no file system can hold: empty, ".", "..", or containing '/' or NUL.
func ValidName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > maxNameLen || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("tree: invalid entry name %q", name)
	}
	return nil
}

// DecodeTree parses a tree blob, validating names, order and field sizes. It
// never allocates more than a small multiple of len(data).
func DecodeTree(data []byte) (*Tree, error) {
	if len(data) < 2 || data[0] != treeVersion {
		return nil, fmt.Errorf("tree: unknown version")
	}
	p := data[1:]
	count, n := binary.Uvarint(p)
	if n <= 0 || count > uint64(len(p)) {
		return nil, fmt.Errorf("tree: bad node count")
	}
	p = p[n:]
	t := &Tree{Nodes: make([]*Node, 0, count)}
	for i := uint64(0); i < count; i++ {
		l, n := binary.Uvarint(p)
		if n <= 0 || l > uint64(len(p)-n) {
			return nil, fmt.Errorf("tree: node %d truncated", i)
		}
		node, err := decodeNode(p[n : n+int(l)])
		if err != nil {
			return nil, fmt.Errorf("tree: node %d: %w", i, err)
		}
		if len(t.Nodes) > 0 && t.Nodes[len(t.Nodes)-1].Name >= node.Name {
			return nil, fmt.Errorf("tree: entries not sorted or duplicated at %q", node.Name)
		}
		t.Nodes = append(t.Nodes, node)
		p = p[n+int(l):]
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("tree: %d trailing bytes", len(p))
	}
	return t, nil
}

func decodeNode(p []byte) (*Node, error) {
	n := &Node{}
	xattrBytes := 0
	for len(p) > 0 {
		tag, k := binary.Uvarint(p)
		if k <= 0 {
			return nil, fmt.Errorf("bad field tag")
		}
		p = p[k:]
		l, k := binary.Uvarint(p)
		if k <= 0 || l > uint64(len(p)-k) {
			return nil, fmt.Errorf("field %d truncated", tag)
		}
		val := p[k : k+int(l)]
		p = p[k+int(l):]
		var err error
		switch tag {
		case tagName:
			n.Name, err = decodeString(val)
		case tagUser:
			n.User, err = decodeString(val)
		case tagGroup:
			n.Group, err = decodeString(val)
		case tagLinkTarget:
			n.LinkTarget, err = decodeString(val)
		case tagError:
			n.Error, err = decodeString(val)
		case tagType, tagMode, tagUID, tagGID, tagInode, tagDeviceID, tagLinks, tagSize:
			var v uint64
			if v, err = decodeUint(val); err == nil {
				err = n.setUint(tag, v)
			}
		case tagModTime, tagChangeTime, tagAccessTime:
			v, k := binary.Varint(val)
			if k <= 0 || k != len(val) {
				return nil, fmt.Errorf("bad time in field %d", tag)
			}
			ts := time.Unix(0, v)
			switch tag {
			case tagModTime:
				n.ModTime = ts
			case tagChangeTime:
				n.ChangeTime = ts
			default:
				n.AccessTime = ts
			}
		case tagContent:
			if len(val)%crypto.IDSize != 0 {
				return nil, fmt.Errorf("content list of %d bytes is not whole ids", len(val))
			}
			n.Content = make([]crypto.ID, len(val)/crypto.IDSize)
			for i := range n.Content {
				copy(n.Content[i][:], val[i*crypto.IDSize:])
			}
		case tagSubtree:
			if len(val) != crypto.IDSize {
				return nil, fmt.Errorf("subtree id of %d bytes", len(val))
			}
			copy(n.Subtree[:], val)
		case tagXattr:
			var x Xattr
			if x, err = decodeXattr(val); err == nil {
				xattrBytes += len(val)
				switch {
				case xattrBytes > maxXattrTotal:
					err = fmt.Errorf("extended attributes of more than %d bytes", maxXattrTotal)
				case len(n.Xattrs) > 0 && n.Xattrs[len(n.Xattrs)-1].Name >= x.Name:
					err = fmt.Errorf("extended attributes not sorted or duplicated at %q", x.Name)
				}
				n.Xattrs = append(n.Xattrs, x)
			}
		default:
			// Unknown optional field from a newer writer: skip.
		}
		if err != nil {
			return nil, err
		}
	}
	if err := ValidName(n.Name); err != nil {
		return nil, err
	}
	switch n.Type {
	case NodeFile, NodeDir, NodeSymlink, NodeDevice, NodeCharDev, NodeFIFO, NodeSocket:
	default:
		return nil, fmt.Errorf("entry %q has unknown type %d", n.Name, n.Type)
	}
	if n.Type == NodeDir && n.Subtree.IsZero() {
		return nil, fmt.Errorf("directory %q has no subtree", n.Name)
	}
	return n, nil
}

func (n *Node) setUint(tag, v uint64) error {
	switch tag {
	case tagType:
		if v > 255 {
			return fmt.Errorf("type %d out of range", v)
		}
		n.Type = NodeType(v)
	case tagMode:
		if v > 0o7777 {
			return fmt.Errorf("mode %o out of range", v)
		}
		n.Mode = uint32(v)
	case tagUID, tagGID:
		if v > 1<<32-1 {
			return fmt.Errorf("id %d out of range", v)
		}
		if tag == tagUID {
			n.UID = uint32(v)
		} else {
			n.GID = uint32(v)
		}
	case tagInode:
		n.Inode = v
	case tagDeviceID:
		n.DeviceID = v
	case tagLinks:
		n.Links = v
	case tagSize:
		n.Size = v
	}
	return nil
}

func decodeString(val []byte) (string, error) {
	if len(val) > maxNameLen {
		return "", fmt.Errorf("string of %d bytes too long", len(val))
	}
	return string(val), nil
}

func decodeUint(val []byte) (uint64, error) {
	v, k := binary.Uvarint(val)
	if k <= 0 || k != len(val) {
		return 0, fmt.Errorf("bad integer field")
	}
	return v, nil
}

// Find returns the node with the given name, or nil.
func (t *Tree) Find(name string) *Node {
	lo, hi := 0, len(t.Nodes)
	for lo < hi {
		m := (lo + hi) / 2
		switch c := strings.Compare(t.Nodes[m].Name, name); {
		case c == 0:
			return t.Nodes[m]
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return nil
}
