package repository

import (
	"context"
	"errors"
	"testing"

	"github.com/lumbung-id/lumbung/internal/crypto"
)

type treeMap map[crypto.ID]*Tree

func (m treeMap) LoadTree(_ context.Context, id crypto.ID) (*Tree, error) {
	if t, ok := m[id]; ok {
		return t, nil
	}
	return nil, ErrBlobNotFound
}

func TestTreeCounter(t *testing.T) {
	file := &Node{Name: "a.txt", Type: NodeFile}
	dir := func(name string, sub byte) *Node { return &Node{Name: name, Type: NodeDir, Subtree: crypto.ID{sub}} }
	// bomb: tree i holds two directories that are both tree i+1, 60 levels:
	// 2^60 entries from 61 trees.
	bomb := treeMap{}
	for i := byte(1); i <= 60; i++ {
		bomb[crypto.ID{i}] = &Tree{Nodes: []*Node{dir("x", i+1), dir("y", i+1)}}
	}
	bomb[crypto.ID{61}] = &Tree{Nodes: []*Node{file}}
	cases := []struct {
		name  string
		trees treeMap
		want  int64
		err   error
	}{
		{"plain", treeMap{{1}: {Nodes: []*Node{file, dir("d", 2)}}, {2}: {Nodes: []*Node{file}}}, 3, nil},
		{"shared subtree counted at each place", treeMap{{1}: {Nodes: []*Node{dir("a", 2), dir("b", 2)}}, {2}: {Nodes: []*Node{file}}}, 4, nil},
		{"tree inside itself", treeMap{{1}: {Nodes: []*Node{dir("d", 2)}}, {2}: {Nodes: []*Node{dir("back", 1)}}}, 0, ErrTreeBomb},
		{"exponential", bomb, 0, ErrTreeBomb},
		{"missing tree", treeMap{{1}: {Nodes: []*Node{dir("d", 9)}}}, 0, ErrBlobNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NewTreeCounter(tc.trees).Count(context.Background(), crypto.ID{1})
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("Count = %d, %v; want %d, %v", got, err, tc.want, tc.err)
			}
		})
	}
}
